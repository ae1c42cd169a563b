"""One fit-index module (psychometrics/fit_indices.py); the interval itself is checked against R
in tests/fit/test_model_fit.py::test_rmsea_interval_matches_r."""

from __future__ import annotations

import math

import numpy as np
import pytest

from psychometrics.fit_indices import cfi_tli, rmsea, rmsea_interval, srmr


def test_sample_size_convention_is_explicit():
    # N vs N - 1 changes the RMSEA by the factor sqrt(N / (N - 1))
    assert rmsea(150.0, 50, 99) == pytest.approx(rmsea(150.0, 50, 100) * math.sqrt(100 / 99), rel=1e-12)
    assert rmsea(40.0, 50, 100) == 0.0
    assert math.isnan(rmsea(10.0, 0, 100))
    low, high = rmsea_interval(150.0, 50, 1000)
    assert low < rmsea(150.0, 50, 1000) < high
    assert rmsea_interval(10.0, 50, 1000)[0] == 0.0


def test_cfi_tli_and_srmr_by_hand():
    cfi, tli = cfi_tli(60.0, 20, 500.0, 28)
    assert cfi == pytest.approx(1 - 40 / 472)
    assert tli == pytest.approx((500 / 28 - 3.0) / (500 / 28 - 1))
    assert cfi_tli(10.0, 20, 500.0, 28)[0] == 1.0
    residuals = np.array([[0.0, 0.1, -0.2], [0.1, 0.0, np.nan], [-0.2, np.nan, 0.0]])
    assert srmr(residuals, diagonal=False) == pytest.approx(math.sqrt((0.01 + 0.04) / 2))
    assert srmr(residuals, diagonal=True) == pytest.approx(math.sqrt((0.01 + 0.04) / 5))
