"""Tests of psychometrics/fit/item.py: S-X2, infit/outfit, RMSD, item_fit.

References:
- mirt's S-X2 of the LSAT7 2PL, pinned in mirt's tests/testthat/test-01-mirtOne.R
  (``itemfit(modm1)``): 4.749440, 14.451071, 1.270381, 5.237400, 0.941125, df 2 each; and
  after ``data[1,1] <- NA`` with ``itemfit(modm1, na.rm=TRUE)``: item 1 S-X2 = 4.8448539.
  mirt's own tolerance there is 0.01; we use 0.01 (mirt's estimates are printed to 4 digits,
  or come from our own calibration).
- Two test forms: S-X2 of an anchor item with ``missing="pattern"`` is the sum over the forms
  of the statistics computed on each form alone (and its df the sum of cells less its
  parameters once); 1e-12.
- Enumeration: the expected proportions of S-X2 recomputed from the probabilities of all
  response patterns (no Lord-Wingersky recursion); 1e-9.
- Infit/outfit: Wright & Masters (1982, ch. 5) formulas evaluated term by term for a 3-item
  Rasch and a 2-item partial credit example; 1e-12.
- RMSD: posterior of every person computed directly from the item probabilities; 1e-10.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from fit_helpers import graded, two_pl
from scipy import stats

from psychometrics import irt
from psychometrics.errors import DataWarning, ResponseError
from psychometrics.fit import infit_outfit, item_fit, rmsd, s_x2
from psychometrics.fit._common import grid
from psychometrics.irt import Calibration
from psychometrics.simulate import simulate

MIRT_S_X2 = [4.749440, 14.451071, 1.270381, 5.237400, 0.941125]


# ------------------------------------------------------------------------------------------
# S-X2
# ------------------------------------------------------------------------------------------


def test_lsat7_s_x2_matches_mirt(lsat7, lsat7_mirt):
    result = s_x2(lsat7_mirt, lsat7)
    np.testing.assert_allclose(result["s_x2"], MIRT_S_X2, atol=0.01)
    assert list(result["df"]) == [2, 2, 2, 2, 2]
    np.testing.assert_allclose(result["p"], stats.chi2.sf(result["s_x2"], 2), rtol=1e-12)


def test_lsat7_s_x2_with_our_calibration_and_missing_response(lsat7):
    calibration = irt.calibrate(lsat7, "2pl")
    np.testing.assert_allclose(s_x2(calibration, lsat7)["s_x2"], MIRT_S_X2, atol=0.01)
    # mirt: data[1,1] <- NA; itemfit(mirt(data, 1), na.rm=TRUE)$S_X2[1] = 4.8448539
    data = lsat7.copy()
    data.iloc[0, 0] = np.nan
    calibration = irt.calibrate(data, "2pl")
    with pytest.warns(DataWarning, match="999 respondents who answered every item; 1 respondents"):
        result = s_x2(calibration, data, missing="listwise")
    assert result.loc["Item.1", "s_x2"] == pytest.approx(4.8448539, abs=0.01)
    # a lone incomplete pattern is too small a group: the same result by default
    with pytest.warns(DataWarning, match="999 respondents in 1 group"):
        pd.testing.assert_frame_equal(s_x2(calibration, data), result)


def test_s_x2_on_two_forms_adds_the_forms_up():
    truth = two_pl(10, seed=90)
    data = simulate(truth, 1600, seed=91)
    data.iloc[:800, 6:] = np.nan          # form A: items 0-5
    data.iloc[800:, :4] = np.nan          # form B: items 4-9; items 4 and 5 are the anchors
    with pytest.warns(DataWarning, match="uses the 0 respondents who answered every item"):
        complete_only = s_x2(truth, data, missing="listwise")
    assert complete_only["s_x2"].isna().all()
    both = s_x2(truth, data)
    assert both["s_x2"].notna().all()
    forms = {"A": (slice(None, 800), truth.item_ids[:6]), "B": (slice(800, None), truth.item_ids[4:])}
    parts = {}
    for name, (rows, items) in forms.items():
        sub = Calibration.from_item_params(truth.slope_intercept.loc[items], "2pl", form="slope_intercept")
        parts[name] = s_x2(sub, data.iloc[rows][items])
    for item in ["i04", "i05"]:
        assert both.loc[item, "s_x2"] == pytest.approx(parts["A"].loc[item, "s_x2"] + parts["B"].loc[item, "s_x2"],
                                                      rel=1e-12)
        assert both.loc[item, "df"] == parts["A"].loc[item, "df"] + parts["B"].loc[item, "df"] + 2
    pd.testing.assert_series_equal(both.loc["i00", ["s_x2", "df"]], parts["A"].loc["i00", ["s_x2", "df"]])
    assert stats.kstest(both["p"], "uniform").pvalue > 0.01


def _enumerated_s_x2(calibration, data):
    """S-X2 without collapsing, expected proportions from all response patterns."""
    n_cat = [len(calibration.categories[i]) for i in calibration.item_ids]
    patterns = np.array(list(itertools.product(*[range(k) for k in n_cat])))
    nodes, weights = grid(calibration)
    prob = calibration.probabilities(nodes)
    pattern_prob = weights @ np.prod([prob[j][:, patterns[:, j]] for j in range(len(n_cat))], axis=0)
    totals = patterns.sum(axis=1)
    codes = data.to_numpy().astype(int)
    scores = codes.sum(axis=1)
    out = []
    for j in range(len(n_cat)):
        statistic, cells = 0.0, 0
        for s in range(1, sum(n_cat) - len(n_cat)):
            n_s = (scores == s).sum()
            if n_s == 0:
                continue
            in_group = totals == s
            possible = 0
            for k in range(n_cat[j]):
                expected = pattern_prob[in_group & (patterns[:, j] == k)].sum() / pattern_prob[in_group].sum()
                if expected == 0:
                    continue
                possible += 1
                observed = ((scores == s) & (codes[:, j] == k)).sum()
                statistic += (observed - n_s * expected) ** 2 / (n_s * expected)
            cells += possible - 1
        out.append((statistic, cells - 2 if n_cat[j] == 2 else cells - n_cat[j]))
    return out


@pytest.mark.parametrize("kind", ["2pl", "graded"])
def test_s_x2_equals_enumeration_without_collapsing(kind):
    calibration = two_pl(4, seed=1) if kind == "2pl" else graded(3, 3, seed=2)
    data = simulate(calibration, 400, seed=3)
    result = s_x2(calibration, data, mincell=0)
    for (statistic, df), (_, row) in zip(_enumerated_s_x2(calibration, data), result.iterrows()):
        assert row["s_x2"] == pytest.approx(statistic, rel=1e-9)
        assert row["df"] == df


def test_collapsing_merges_sparse_score_groups():
    calibration = two_pl(6, seed=4)
    data = simulate(calibration, 150, seed=5)
    loose = s_x2(calibration, data, mincell=0)
    strict = s_x2(calibration, data, mincell=5)
    assert (strict["df"] <= loose["df"]).all()
    assert (strict["df"] < loose["df"]).any()


def test_s_x2_p_values_roughly_uniform_on_model_true_data():
    p_values = []
    for seed in range(3):
        truth = two_pl(12, seed=10 + seed)
        data = simulate(truth, 1000, seed=20 + seed)
        p_values.extend(s_x2(irt.calibrate(data, "2pl"), data)["p"])
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert 0.3 < np.mean(p_values) < 0.7


def test_polytomous_s_x2_p_values_roughly_uniform():
    p_values = []
    for seed in range(2):
        truth = graded(8, 4, seed=30 + seed)
        data = simulate(truth, 1000, seed=40 + seed)
        p_values.extend(s_x2(irt.calibrate(data, "graded"), data)["p"])
    assert stats.kstest(p_values, "uniform").pvalue > 0.01


def _with_misfitting_item(n=1500, seed=50):
    truth = two_pl(10, seed=seed)
    rng = np.random.default_rng(seed + 2)
    theta = rng.normal(size=n)
    data = simulate(truth, n, theta=theta, seed=seed + 1)
    # a non-monotone curve no 2PL item can follow
    data["i05"] = (rng.random(n) < 1 / (1 + np.exp(-(1.5 - 2.0 * theta ** 2)))).astype(float)
    return data


def test_planted_misfitting_item_is_flagged():
    data = _with_misfitting_item()
    fit = item_fit(irt.calibrate(data, "2pl"), data)
    assert fit.loc["i05", "p"] < 1e-6
    assert fit.drop(index="i05")["p"].min() > 1e-3
    assert fit["rmsd"].idxmax() == "i05"
    assert fit.loc["i05", "rmsd"] > 0.05
    assert fit.drop(index="i05")["rmsd"].max() < 0.03


# ------------------------------------------------------------------------------------------
# infit / outfit
# ------------------------------------------------------------------------------------------


def _wright_masters(prob_rows, x):
    """Mean squares and t values of one item by the textbook sums over persons."""
    sq = w = c = z2 = 0.0
    q_out = 0.0
    for p, xi in zip(prob_rows, x):
        if np.isnan(xi):
            continue
        k = np.arange(len(p))
        e = (k * p).sum()
        var = ((k - e) ** 2 * p).sum()
        kurt = ((k - e) ** 4 * p).sum()
        sq += (xi - e) ** 2
        w += var
        c += kurt - var ** 2
        z2 += (xi - e) ** 2 / var
        q_out += kurt / var ** 2
    n = int(np.sum(~np.isnan(x)))
    outfit, infit = z2 / n, sq / w
    q_out = np.sqrt(q_out / n ** 2 - 1 / n)
    q_in = np.sqrt(c / w ** 2)
    return (infit, outfit, (infit ** (1 / 3) - 1) * 3 / q_in + q_in / 3,
            (outfit ** (1 / 3) - 1) * 3 / q_out + q_out / 3)


def test_infit_outfit_rasch_by_hand():
    calibration = Calibration.from_item_params(
        pd.DataFrame({"b": [-1.0, 0.0, 1.0]}, index=["q1", "q2", "q3"]), "rasch")
    theta = np.array([-0.5, 0.3, 1.2, 0.0, -1.4])
    data = pd.DataFrame([[1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 1, np.nan], [0, 0, 1]],
                        columns=["q1", "q2", "q3"], dtype=float)
    result = infit_outfit(calibration, data, theta=theta)
    b = np.array([-1.0, 0.0, 1.0])
    for j, item in enumerate(["q1", "q2", "q3"]):
        p1 = 1 / (1 + np.exp(-(theta - b[j])))
        expected = _wright_masters(np.column_stack([1 - p1, p1]), data[item].to_numpy())
        np.testing.assert_allclose(result.loc[item, ["infit", "outfit", "infit_z", "outfit_z"]],
                                   expected, rtol=1e-12)


def test_infit_outfit_partial_credit_by_hand():
    params = pd.DataFrame({"b1": [-0.5, 0.2], "b2": [0.8, 1.0]}, index=["p1", "p2"])
    calibration = Calibration.from_item_params(params, "pcm")
    theta = pd.Series([0.4, -1.0, 1.5, 0.0], index=["r1", "r2", "r3", "r4"])
    data = pd.DataFrame({"p1": [2, 0, 1, 1], "p2": [0, 1, 2, np.nan]}, index=theta.index, dtype=float)
    result = infit_outfit(calibration, data, theta=theta.iloc[::-1])     # aligned by id
    for j, item in enumerate(["p1", "p2"]):
        b1, b2 = params.iloc[j]
        numerators = np.column_stack([np.zeros(4), theta - b1, 2 * theta - b1 - b2])
        prob = np.exp(numerators) / np.exp(numerators).sum(axis=1, keepdims=True)
        expected = _wright_masters(prob, data[item].to_numpy())
        np.testing.assert_allclose(result.loc[item, ["infit", "outfit", "infit_z", "outfit_z"]],
                                   expected, rtol=1e-12)


def test_mean_squares_near_one_at_true_theta():
    calibration = Calibration.from_item_params(
        pd.DataFrame({"b": np.linspace(-1.5, 1.5, 10)}, index=[f"r{j}" for j in range(10)]), "rasch")
    rng = np.random.default_rng(60)
    theta = rng.normal(size=3000)
    data = simulate(calibration, 3000, theta=theta, seed=61)
    result = infit_outfit(calibration, data, theta=theta)
    np.testing.assert_allclose(result[["infit", "outfit"]], 1.0, atol=0.08)
    assert result[["infit_z", "outfit_z"]].abs().to_numpy().max() < 4.0


# ------------------------------------------------------------------------------------------
# RMSD
# ------------------------------------------------------------------------------------------


def test_rmsd_equals_direct_posterior_computation():
    calibration = graded(4, 3, seed=70)
    data = simulate(calibration, 300, missing=0.2, seed=71)
    nodes, weights = grid(calibration)
    prob = calibration.probabilities(nodes)                               # (J, Q, K)
    codes = data.to_numpy()
    likelihood = np.ones((codes.shape[0], nodes.size))
    for j in range(4):
        answered = ~np.isnan(codes[:, j])
        likelihood[answered] *= prob[j][:, codes[answered, j].astype(int)].T
    posterior = likelihood * weights
    posterior /= posterior.sum(axis=1, keepdims=True)
    expected = []
    for j in range(4):
        answered = ~np.isnan(codes[:, j])
        counts = np.stack([posterior[answered & (codes[:, j] == k)].sum(axis=0) for k in range(3)], axis=1)
        n_q = counts.sum(axis=1)
        f = n_q / n_q.sum()
        expected.append(np.sqrt((f * ((counts / n_q[:, None] - prob[j]) ** 2).mean(axis=1)).sum()))
    np.testing.assert_allclose(rmsd(calibration, data), expected, rtol=1e-10)


# ------------------------------------------------------------------------------------------
# item_fit, missing data, bad input
# ------------------------------------------------------------------------------------------


def test_item_fit_columns_and_missing_data():
    calibration = two_pl(6, seed=80)
    data = simulate(calibration, 500, missing=0.1, seed=81)
    with pytest.warns(DataWarning, match="S-X2 uses the"):
        fit = item_fit(calibration, data)
    assert list(fit.columns) == ["s_x2", "df", "p", "infit", "outfit", "infit_z", "outfit_z", "rmsd", "n"]
    assert list(fit.index) == list(calibration.item_ids)
    np.testing.assert_array_equal(fit["n"], data.notna().sum())
    assert fit[["s_x2", "infit", "outfit", "rmsd"]].notna().all().all()
    # infit/outfit use every answered response: same as computing on the answered cells only
    theta = np.linspace(-2, 2, 500)
    full = infit_outfit(calibration, data, theta=theta)
    alone = infit_outfit(calibration, data[["i02"]], theta=theta)
    assert alone.loc["i02", "outfit"] == pytest.approx(full.loc["i02", "outfit"], rel=1e-12)


def test_item_subset_of_calibration(lsat7, lsat7_mirt):
    fit = infit_outfit(lsat7_mirt, lsat7[["Item.2", "Item.1"]], theta=np.zeros(1000))
    assert fit.loc[["Item.3", "Item.4", "Item.5"]].isna().all().all()
    assert fit.loc[["Item.1", "Item.2"]].notna().all().all()


def test_bad_input(lsat7, lsat7_mirt):
    with pytest.raises(ValueError, match="mincell"):
        item_fit(lsat7_mirt, lsat7, mincell=-1)
    with pytest.raises(ValueError, match="missing must be"):
        item_fit(lsat7_mirt, lsat7, missing="impute")
    with pytest.raises(ValueError, match="min_group"):
        s_x2(lsat7_mirt, lsat7, min_group=0)
    with pytest.raises(ValueError, match="method must be"):
        item_fit(lsat7_mirt, lsat7, method="sum")
    with pytest.raises(ValueError, match="theta has 3 values for 1000"):
        infit_outfit(lsat7_mirt, lsat7, theta=[0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="no value for respondent"):
        infit_outfit(lsat7_mirt, lsat7, theta=pd.Series([0.0], index=[0]))
    with pytest.raises(ValueError, match="NaN for respondent"):
        infit_outfit(lsat7_mirt, lsat7, theta=np.full(1000, np.nan))
    with pytest.raises(ResponseError, match="not in the calibration"):
        s_x2(lsat7_mirt, lsat7.rename(columns={"Item.2": "x"}))
    bad = lsat7.copy()
    bad.iloc[3, 1] = 2
    with pytest.raises(ResponseError, match=r"row 3.*Item.2"):
        item_fit(lsat7_mirt, bad)
    with pytest.raises(TypeError, match="Calibration"):
        rmsd(None, lsat7)
