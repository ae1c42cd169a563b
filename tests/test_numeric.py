"""Shared numeric constants and the stable log(1 - exp(x)) (psychometrics/_numeric.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from psychometrics._numeric import LOG_TINY, log1mexp


def test_log1mexp_is_accurate_on_both_branches():
    x = np.array([-1e-20, -1e-8, -0.3, -math.log(2.0), -5.0, -800.0])
    # reference values from the series log(-x) + x/2 near 0 and -exp(x) far out, plus log1p where exact
    expected = [math.log(1e-20) - 0.5e-20, math.log(1e-8) - 0.5e-8, math.log1p(-math.exp(-0.3)),
                math.log(0.5), math.log1p(-math.exp(-5.0)), -math.exp(-800.0)]
    np.testing.assert_allclose(log1mexp(x), expected, rtol=1e-14, atol=0)
    assert log1mexp(0.0) == -np.inf
    assert np.isnan(log1mexp(0.5))
    assert log1mexp(-np.inf) == 0.0


def test_log_tiny_is_the_log_of_the_smallest_normal_double():
    assert math.exp(LOG_TINY) == pytest.approx(np.finfo(np.float64).tiny, rel=1e-12)
