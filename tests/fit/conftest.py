"""Fixtures of the fit tests: LSAT7 and Science with mirt's published estimates."""

from __future__ import annotations

import pandas as pd
import pytest
from fit_helpers import LSAT7_SLOPE_INTERCEPT, SCIENCE_SLOPE_INTERCEPT, expand_patterns

from psychometrics.irt import Calibration


@pytest.fixture
def lsat7(shared_data) -> pd.DataFrame:
    return expand_patterns(pd.read_csv(shared_data / "LSAT7.csv"))


@pytest.fixture
def lsat7_mirt() -> Calibration:
    return Calibration.from_item_params(LSAT7_SLOPE_INTERCEPT, "2pl", form="slope_intercept")


@pytest.fixture
def science(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "Science.csv").astype(float)


@pytest.fixture
def science_mirt() -> Calibration:
    return Calibration.from_item_params(SCIENCE_SLOPE_INTERCEPT, "graded", form="slope_intercept",
                                        categories=[1, 2, 3, 4])
