"""Fixtures of the adaptive-testing tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cat_pools import two_pl_pool

from psychometrics.irt import Calibration


@pytest.fixture(scope="module")
def pool() -> Calibration:
    return two_pl_pool()


@pytest.fixture(scope="module")
def areas(pool) -> pd.Series:
    names = np.array(["communication", "teamwork", "leadership", "planning"])
    return pd.Series(names[np.arange(pool.n_items) % 4], index=pool.item_ids, name="area")
