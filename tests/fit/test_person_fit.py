"""Tests of psychometrics/fit/person.py: lz and lz*.

References:
- Drasgow, Levine & Williams (1985) lz and Snijders (2001, eqs. 9-12) lz* for 2PL items,
  written out with the analytic 2PL derivatives P' = aPQ, P'' = a^2 PQ(Q - P); Snijders' r_0
  is 0 for ML, Warm's J/(2I) with J = sum a^3 PQ(Q - P) for WLE and -(theta - mu)/sigma^2 for
  MAP. Ours differentiates the log-probabilities numerically: tolerance 1e-6.
- Recovery (Snijders, 2001; Sinharay, 2016): on model-true data lz* has mean about 0 and SD
  about 1 for dichotomous and polytomous items (the uncorrected lz has SD below 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fit_helpers import graded, two_pl

from psychometrics.errors import ResponseError
from psychometrics.fit import person_fit
from psychometrics.scoring import score
from psychometrics.simulate import simulate


def _snijders(a, b, x, theta, method, mean=0.0, variance=1.0):
    """lz and lz* of one person by the textbook formulas (2PL, answered items only)."""
    keep = ~np.isnan(x)
    a, b, x = a[keep], b[keep], x[keep]
    p = 1 / (1 + np.exp(-a * (theta - b)))
    q = 1 - p
    w = np.log(p / q)
    l0 = np.sum(x * np.log(p) + (1 - x) * np.log(q))
    e = np.sum(p * np.log(p) + q * np.log(q))
    v = np.sum(p * q * w ** 2)
    lz = (l0 - e) / np.sqrt(v)
    dp = a * p * q
    r = dp / (p * q)                                   # = a
    c = np.sum(dp * w) / np.sum(dp * r)
    if method == "ml":
        r0 = 0.0
    elif method == "wle":
        r0 = np.sum(a ** 3 * p * q * (q - p)) / (2 * np.sum(a ** 2 * p * q))
    else:
        r0 = -(theta - mean) / variance
    tau2 = np.sum((w - c * r) ** 2 * p * q)
    return lz, (np.sum((x - p) * w) + c * r0) / np.sqrt(tau2)


@pytest.mark.parametrize("method", ["ml", "wle", "map"])
def test_lz_and_lz_star_by_hand(method):
    calibration = two_pl(8, seed=1)
    data = simulate(calibration, 40, missing=0.15, seed=2)
    data = data[data.notna().sum(axis=1) >= 2]
    scored = score(calibration, data, method=method)
    finite = np.isfinite(scored["theta"]) & (scored["flag"] == "")
    result = person_fit(calibration, data, method=method, theta=scored)
    a = calibration.item_params["a"].to_numpy()
    b = calibration.item_params["b"].to_numpy()
    checked = 0
    for person in data.index[finite]:
        lz, lz_star = _snijders(a, b, data.loc[person].to_numpy(), scored.loc[person, "theta"], method)
        assert result.loc[person, "lz"] == pytest.approx(lz, abs=1e-6)
        assert result.loc[person, "lz_star"] == pytest.approx(lz_star, abs=1e-6)
        checked += 1
    assert checked > 20


def test_scores_itself_when_theta_is_not_given():
    calibration = two_pl(8, seed=1)
    data = simulate(calibration, 50, seed=3)
    given = person_fit(calibration, data, theta=score(calibration, data, method="wle")["theta"])
    pd.testing.assert_frame_equal(person_fit(calibration, data), given)


@pytest.mark.parametrize("make", [lambda: two_pl(30, seed=4), lambda: graded(20, 4, seed=5)],
                         ids=["2pl", "graded"])
def test_lz_star_standard_normal_on_model_true_data(make):
    calibration = make()
    result = person_fit(calibration, simulate(calibration, 2000, seed=6))
    assert abs(result["lz_star"].mean()) < 0.15
    assert result["lz_star"].std() == pytest.approx(1.0, abs=0.1)
    # the uncorrected statistic is too narrow: the reason for the correction
    assert result["lz"].std() < result["lz_star"].std()


def test_random_responders_have_low_lz():
    calibration = two_pl(30, seed=7)
    data = simulate(calibration, 600, seed=8)
    rng = np.random.default_rng(9)
    data.iloc[:40] = (rng.random((40, 30)) < 0.5).astype(float)
    result = person_fit(calibration, data)
    assert result["lz_star"].iloc[:40].mean() < -2.5
    assert result["lz"].iloc[:40].mean() < -2.0
    assert result["lz_star"].iloc[40:].mean() > -0.2
    flagged = result["lz_star"] < -1.645
    assert flagged.iloc[:40].mean() > 0.7
    assert flagged.iloc[40:].mean() < 0.12


def test_missing_responses_and_undefined_cases():
    calibration = two_pl(6, seed=10)
    data = pd.DataFrame([[1, 0, 1, np.nan, 0, 1],
                         [np.nan] * 6,
                         [1, 1, 1, 1, 1, 1],
                         [0, 1, np.nan, np.nan, np.nan, 1]], columns=calibration.item_ids,
                        index=["a", "b", "c", "d"])
    result = person_fit(calibration, data, method="ml")
    assert list(result["n_answered"]) == [5, 0, 6, 3]
    assert result.loc["b"].drop("n_answered").isna().all()          # no responses
    assert np.isinf(result.loc["c", "theta"]) and np.isnan(result.loc["c", "lz"])
    # a person's statistic uses the answered items only: same as with the others dropped
    alone = person_fit(calibration, data.loc[["d"], ["i00", "i01", "i05"]], method="ml")
    assert alone.loc["d", "lz_star"] == pytest.approx(result.loc["d", "lz_star"], rel=1e-9)
    assert np.isfinite(person_fit(calibration, data)["lz"]["c"])    # WLE is finite


def test_bad_input():
    calibration = two_pl(4, seed=11)
    data = simulate(calibration, 10, seed=12)
    with pytest.raises(ValueError, match="method must be one of wle, ml, map"):
        person_fit(calibration, data, method="eap")
    with pytest.raises(ValueError, match="theta has 2 values for 10"):
        person_fit(calibration, data, theta=[0.0, 1.0])
    with pytest.raises(ValueError, match="'theta' column"):
        person_fit(calibration, data, theta=pd.DataFrame({"x": np.zeros(10)}))
    with pytest.raises(ResponseError, match="not in the calibration"):
        person_fit(calibration, data.rename(columns={"i00": "zz"}))
