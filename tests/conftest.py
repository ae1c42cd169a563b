"""Shared fixtures: reference data beside the checkout, seeded generators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


#: Set to 1 (CI does) to make the tests that need the reference data fail when it is absent
#: instead of skipping, so that a lost data folder cannot pass as a green run.
REQUIRE_REFERENCE_DATA = "PSYCHOMETRICS_REQUIRE_REFERENCE_DATA"


def reference_data_absent(what: str) -> None:
    """Skip the calling test, or fail it when ``$PSYCHOMETRICS_REQUIRE_REFERENCE_DATA=1``."""
    message = f"reference data {what} is absent"
    if os.environ.get(REQUIRE_REFERENCE_DATA, "") == "1":
        pytest.fail(f"{message} and {REQUIRE_REFERENCE_DATA}=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def shared_data() -> Path:
    """Folder of public reference data sets; tests using it skip when it is absent (fail with
    ``PSYCHOMETRICS_REQUIRE_REFERENCE_DATA=1``)."""
    if not SHARED_DATA.is_dir():
        reference_data_absent(f"folder {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261126)
