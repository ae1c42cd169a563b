"""Tests of psychometrics/fit/local.py: Q3 and LD-X2.

References:
- mirt's LD-X2 of the LSAT7 2PL, pinned in mirt's tests/testthat/test-01-mirtOne.R
  (``residuals(modm1)``): the lower triangle holds X2, the upper triangle the signed
  Cramer's V. mirt's own tolerance there is 1e-2 (relative); we allow 0.005 on X2 and 0.001 on
  V with our calibration, 0.01 and 0.002 with mirt's 4-digit printed estimates.
- Yen (1984): under local independence the mean Q3 is about -1/(J-1).
- Q3 by hand: residuals from the item probabilities at given thetas, Pearson correlations
  over the persons who answered both items (pandas ``DataFrame.corr``); 1e-10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fit_helpers import graded, two_pl
from scipy import stats

from psychometrics import irt
from psychometrics.errors import ResponseError
from psychometrics.fit import ld_x2, q3
from psychometrics.fit._common import grid
from psychometrics.simulate import simulate

ITEMS = [f"Item.{i}" for i in range(1, 6)]
PAIRS = [(1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5), (3, 4), (3, 5), (4, 5)]
# mirt: residuals(modm1), as.numeric of the 5 x 5 matrix (column-major)
MIRT_LD = np.array([np.nan, 0.451213, 0.8562096, 2.577395, 2.392183, -0.02124177, np.nan, 1.053826,
                    0.2662122, 1.383089, -0.02926106, 0.03246269, np.nan, 0.1542321, 0.002940504,
                    0.05076805, -0.01631601, -0.01241902, np.nan, 9.962506e-06, 0.04890994, -0.0371899,
                    -0.00171479, 9.981236e-05, np.nan]).reshape(5, 5, order="F")
MIRT_X2 = [MIRT_LD[j - 1, i - 1] for i, j in PAIRS]
MIRT_SIGNED_V = [MIRT_LD[i - 1, j - 1] for i, j in PAIRS]


def _check_against_mirt(result, x2_tol, v_tol):
    np.testing.assert_allclose(result["x2"], MIRT_X2, atol=x2_tol)
    np.testing.assert_allclose(result["sign"] * result["cramers_v"], MIRT_SIGNED_V, atol=v_tol)
    assert list(result["df"]) == [1] * 10
    np.testing.assert_allclose(result["p"], stats.chi2.sf(result["x2"], 1), rtol=1e-12)


def test_lsat7_ld_x2_matches_mirt(lsat7, lsat7_mirt):
    result = ld_x2(lsat7_mirt, lsat7)
    assert list(result.index) == [(f"Item.{i}", f"Item.{j}") for i, j in PAIRS]
    _check_against_mirt(result, 0.01, 0.002)
    _check_against_mirt(ld_x2(irt.calibrate(lsat7, "2pl"), lsat7), 0.005, 0.001)


def test_ld_x2_by_hand_with_missing():
    calibration = graded(3, 3, seed=1)
    data = simulate(calibration, 400, missing=0.2, seed=2)
    result = ld_x2(calibration, data)
    nodes, weights = grid(calibration)
    prob = calibration.probabilities(nodes)
    for (first, second), row in result.iterrows():
        j, l = calibration.item_ids.index(first), calibration.item_ids.index(second)
        both = data[[first, second]].dropna()
        observed = pd.crosstab(both[first], both[second]).reindex(index=range(3), columns=range(3),
                                                                      fill_value=0).to_numpy()
        expected = len(both) * np.einsum("qk,qm,q->km", prob[j, :, :3], prob[l, :, :3], weights)
        x2 = ((observed - expected) ** 2 / expected).sum()
        assert row["x2"] == pytest.approx(x2, rel=1e-10)
        assert row["df"] == 4 and row["n"] == len(both)
        assert row["z"] == pytest.approx((x2 - 4) / np.sqrt(8), rel=1e-10)
        assert row["cramers_v"] == pytest.approx(np.sqrt(x2 / (2 * len(both))), rel=1e-10)


def _with_dependent_pair(seed):
    calibration = two_pl(12, seed=seed)
    data = simulate(calibration, 1500, seed=seed + 1)
    rng = np.random.default_rng(seed + 2)
    copy = rng.random(len(data)) < 0.5
    data.loc[copy, "i06"] = data.loc[copy, "i05"]        # half the persons repeat their answer
    return calibration, data


def test_injected_dependence_is_flagged():
    calibration, data = _with_dependent_pair(3)
    fitted = irt.calibrate(data, "2pl")
    adjusted = q3(fitted, data, adjusted=True).stack()
    assert adjusted.idxmax() == ("i05", "i06")
    assert adjusted.max() > 0.2
    assert adjusted.drop([("i05", "i06"), ("i06", "i05")]).max() < 0.2
    ld = ld_x2(fitted, data)
    assert ld["z"].idxmax() == ("i05", "i06")
    assert ld.loc[("i05", "i06"), "z"] > 10 and ld.loc[("i05", "i06"), "sign"] == 1


def test_mean_q3_near_minus_one_over_j_minus_one():
    for n_items, seed in [(10, 4), (20, 5)]:
        calibration = two_pl(n_items, seed=seed)
        result = q3(calibration, simulate(calibration, 2000, seed=seed + 10))
        assert result.mean_q3 == pytest.approx(-1.0 / (n_items - 1), abs=0.03)
        assert np.allclose(np.diag(result), 1.0)
        np.testing.assert_allclose(result, result.T)


def test_q3_by_hand_with_missing():
    calibration = graded(4, 3, seed=6)
    data = simulate(calibration, 200, missing=0.15, seed=7)
    theta = np.random.default_rng(8).normal(size=200)
    result = q3(calibration, data, theta=theta)
    expected_score = np.einsum("jnk,k->nj", calibration.probabilities(theta), np.arange(3.0))
    residuals = data - expected_score
    by_hand = residuals.corr().to_numpy().copy()
    np.fill_diagonal(by_hand, 1.0)
    np.testing.assert_allclose(result.to_numpy(), by_hand, rtol=1e-10, atol=1e-12)
    adjusted = q3(calibration, data, theta=theta, adjusted=True)
    off = ~np.eye(4, dtype=bool)
    mean = by_hand[off].mean()
    np.testing.assert_allclose(adjusted.to_numpy()[off], by_hand[off] - mean, rtol=1e-10)
    assert np.isnan(np.diag(adjusted)).all()
    assert adjusted.mean_q3 == pytest.approx(mean, rel=1e-10)


def test_bad_input(lsat7, lsat7_mirt):
    with pytest.raises(ValueError, match="method must be"):
        q3(lsat7_mirt, lsat7, method="wrong")
    with pytest.raises(ValueError, match="theta has 5 values"):
        q3(lsat7_mirt, lsat7, theta=np.zeros(5))
    with pytest.raises(ResponseError, match="not in the calibration"):
        ld_x2(lsat7_mirt, lsat7.rename(columns={"Item.4": "x"}))
    with pytest.raises(TypeError, match="Calibration"):
        ld_x2(lsat7, lsat7)
