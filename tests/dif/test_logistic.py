"""Logistic-regression DIF (psychometrics/dif/logistic.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from psychometrics.dif import fit_cumulative_logit, jodoin_gierl_class, logistic
from psychometrics.errors import DataWarning, ResponseError

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


# ----------------------------------------------------------------------------- known answers

def test_binary_matches_r_glm(reference_lines):
    # tests/reference/dif_reference.R: glm(y ~ S), glm(y ~ S + G), glm(y ~ S * G), binomial;
    # Nagelkerke R^2 by formula from logLik of glm(y ~ 1). glm stops at deviance change 1e-8,
    # hence the tolerances.
    data = pd.read_csv(REFERENCE / "dif_binary.csv")
    ref = reference_lines("LR")
    table = logistic(data, "group", reference="r", adjust="none")
    for item, v in ref.items():
        row = table.loc[item]
        assert row["chi2_uniform"] == pytest.approx(2 * (v["ll2"] - v["ll1"]), abs=1e-6)
        assert row["chi2_nonuniform"] == pytest.approx(2 * (v["ll3"] - v["ll2"]), abs=1e-6)
        assert row["chi2"] == pytest.approx(2 * (v["ll3"] - v["ll1"]), abs=1e-6)
        assert row["delta_r2_uniform"] == pytest.approx(v["r2_2"] - v["r2_1"], abs=1e-8)
        assert row["delta_r2_nonuniform"] == pytest.approx(v["r2_3"] - v["r2_2"], abs=1e-8)
        assert row["delta_r2"] == pytest.approx(v["r2_3"] - v["r2_1"], abs=1e-8)
        assert row["coef_group"] == pytest.approx(v["coef_group"], abs=1e-6)
        assert row["df"] == 2
    assert table.loc["b1", "flag"]
    holm = logistic(data, "group", reference="r")
    assert list(holm.index[holm["flag"]]) == ["b1"]


def test_ordinal_matches_r_polr(reference_lines):
    # tests/reference/dif_reference.R: MASS::polr(y ~ S), (y ~ S + G), (y ~ S * G), logistic
    # link. polr's optimizer stops earlier than our Newton fit (our log-likelihoods are higher
    # by < 1e-7), hence 1e-4 on statistics and coefficients.
    data = pd.read_csv(REFERENCE / "dif_ordinal.csv")
    ref = reference_lines("POLR")
    table = logistic(data, "group", reference="r", adjust="none")
    for item, v in ref.items():
        row = table.loc[item]
        assert row["chi2_uniform"] == pytest.approx(2 * (v["ll2"] - v["ll1"]), abs=1e-4)
        assert row["chi2_nonuniform"] == pytest.approx(2 * (v["ll3"] - v["ll2"]), abs=1e-4)
        assert row["delta_r2_uniform"] == pytest.approx(v["r2_2"] - v["r2_1"], abs=1e-6)
        assert row["delta_r2_nonuniform"] == pytest.approx(v["r2_3"] - v["r2_2"], abs=1e-6)
        assert row["coef_group"] == pytest.approx(v["coef_group"], abs=1e-4)
        assert row["n_categories"] == 4
    assert table.loc["o1", "flag"] and table.loc["o1", "coef_group"] < 0


def test_cumulative_logit_fit_reaches_polr_loglik(reference_lines):
    # Direct fit on the raw (unstandardized) total score: the log-likelihood of polr(o1 ~ So + Go)
    # from tests/reference/dif_reference.out, and the thresholds-only log-likelihood at the start.
    data = pd.read_csv(REFERENCE / "dif_ordinal.csv")
    ref = reference_lines("POLR")["o1"]
    score = data[["o1", "o2", "o3", "o4"]].sum(axis=1).to_numpy(float)
    focal = (data["group"] == "f").to_numpy(float)
    y = data["o1"].to_numpy()[None].astype(np.intp)
    x = np.stack([score, focal], axis=1)[None]
    theta, loglik, converged = fit_cumulative_logit(y, x, np.ones(y.shape), 4)
    assert converged.all()
    assert loglik[0] == pytest.approx(ref["ll2"], abs=1e-6)
    assert loglik[0] >= ref["ll2"] - 1e-9
    assert theta[0, -1] == pytest.approx(ref["coef_group"], abs=1e-4)
    assert np.all(np.diff(theta[0, :3]) > 0)
    # with zero slopes the start is the thresholds-only maximum: ll0 of the reference
    _theta0, ll0, _ = fit_cumulative_logit(y, np.zeros((1, y.shape[1], 1)), np.ones(y.shape), 4)
    assert ll0[0] == pytest.approx(ref["ll0"], abs=1e-8)


def test_two_category_fit_is_binary_logistic(rng):
    # P(Y = 1) = expit(x'beta - zeta): same likelihood as logistic regression with intercept -zeta.
    n = 500
    x = rng.normal(size=(1, n, 2))
    eta = 0.3 + x[0] @ np.array([1.0, -0.5])
    y = (rng.random(n) < special.expit(eta)).astype(np.intp)[None]
    theta, loglik, _ = fit_cumulative_logit(y, x, np.ones((1, n)), 2)
    p = special.expit(x[0] @ theta[0, 1:] - theta[0, 0])
    assert loglik[0] == pytest.approx(np.sum(y[0] * np.log(p) + (1 - y[0]) * np.log(1 - p)), rel=1e-12)
    # score equations of logistic regression hold at the optimum
    design = np.column_stack([np.ones(n), x[0]])
    np.testing.assert_allclose(design.T @ (y[0] - p), 0.0, atol=1e-7)


def test_jodoin_gierl_classification():
    # A < .035 <= B < .070 <= C, B and C only when significant (Jodoin & Gierl 2001)
    classes = jodoin_gierl_class([0.01, 0.035, 0.069, 0.070, 0.2], [0.001, 0.001, 0.001, 0.001, 0.2])
    assert list(classes) == ["A", "B", "B", "C", "A"]


# ----------------------------------------------------------------------------- simulated DIF

def test_planted_uniform_and_nonuniform_dif_are_flagged(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 1000, 12, uniform={3: 0.8}, slope_ratio={8: 0.3})
    table = logistic(data, group, reference="ref", purify=True)
    assert set(table.index[table["flag"]]) == {"i04", "i09"}
    assert table.loc["i04", "p_uniform"] < 1e-6 and table.loc["i04", "coef_group"] < 0
    assert table.loc["i09", "p_nonuniform"] < 1e-6
    assert table.loc["i09", "delta_r2_nonuniform"] > table.loc["i09", "delta_r2_uniform"]
    assert table["converged"].all()
    uniform_only = logistic(data, group, reference="ref", test="uniform", purify=True)
    assert uniform_only.loc["i04", "flag"] and (uniform_only["df"] == 1).all()
    nonuniform = logistic(data, group, reference="ref", test="nonuniform")
    assert nonuniform.loc["i09", "flag"] and not nonuniform.loc["i04", "flag"]


def test_polytomous_and_several_focal_groups(rng):
    n = 1200
    theta = rng.normal(size=n)
    group = np.repeat(["a", "b", "c"], n // 3)
    thresholds = np.array([-1.0, 0.2, 1.3])
    shift = np.zeros((n, 5))
    shift[group == "c", 4] = -0.9
    cumulative = 1 / (1 + np.exp(-1.4 * (theta[:, None, None] - thresholds - shift[:, :, None])))
    y = (rng.random((n, 5))[:, :, None] < cumulative).sum(axis=2).astype(float)
    data = pd.DataFrame(y, columns=[f"s{j}" for j in range(5)])
    table = logistic(data, group, reference="a")
    assert table.index.names == ["focal_group", "item"]
    assert set(table.index[table["flag"]]) == {("c", "s4")}
    assert table.loc[("c", "s4"), "coef_group"] > 0


# ----------------------------------------------------------------------------- missing data

def test_missing_responses(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 600, 10, uniform={0: 0.9}, missing=0.1)
    table = logistic(data, group, reference="ref")
    observed = data.notna()
    for item in data.columns:
        assert table.loc[item, "n_reference"] == observed.loc[group == "ref", item].sum()
        assert table.loc[item, "n_focal"] == observed.loc[group == "foc", item].sum()
    assert set(table.index[table["flag"]]) == {"i01"}


def test_missing_equals_fit_on_the_answering_persons(rng, simulate_2pl):
    # Dropping the persons who skipped item 1 by hand gives the same statistics for item 1
    # (same prorated scores, same persons).
    data, group = simulate_2pl(rng, 200, 6, missing=0.1)
    full = logistic(data, group, reference="ref", adjust="none")
    keep = data["i01"].notna().to_numpy()
    subset = logistic(data[keep], group[keep], reference="ref", adjust="none")
    assert full.loc["i01", "chi2"] == pytest.approx(subset.loc["i01", "chi2"], rel=1e-9)


def test_item_answered_by_one_group_only_warns(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 100, 5)
    data.loc[group == "foc", "i05"] = np.nan
    with pytest.warns(DataWarning, match="no logistic DIF test for item\\(s\\) 'i05'"):
        table = logistic(data, group, reference="ref")
    assert np.isnan(table.loc["i05", "chi2"]) and not table.loc["i05", "flag"]


def test_complete_separation_does_not_break(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 150, 6)
    data.loc[group == "foc", "i01"] = 1.0   # every focal person answers item 1 correctly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = logistic(data, group, reference="ref")
    assert table.loc["i01", "flag"] and np.isfinite(table.loc["i01", "chi2"])


# ----------------------------------------------------------------------------- bad input

def test_bad_input_raises_clear_errors(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 100, 5)
    with pytest.raises(ResponseError, match="at least two groups"):
        logistic(data, np.repeat("x", 200))
    with pytest.raises(ResponseError, match="group has 10 entries"):
        logistic(data, group[:10])
    with pytest.raises(ResponseError, match="reference group 'ref' has 100 persons.*at least 150"):
        logistic(data, group, reference="ref", min_group_size=150)
    labels = pd.Series(group, index=data.index, dtype=object)
    labels.iloc[7] = np.nan
    with pytest.raises(ResponseError, match="respondent 'p7' \\(row 7\\)"):
        logistic(data, labels)
    with pytest.raises(ValueError, match="test must be"):
        logistic(data, group, test="joint")
    with pytest.raises(ValueError, match="matching must be"):
        logistic(data, group, matching="sum")


def test_science_random_split_runs_on_real_ordinal_data(shared_data):
    # Real 4-category items coded 1-4; a random split should rarely flag items.
    data = pd.read_csv(shared_data / "Science.csv").select_dtypes("number")
    split = np.random.default_rng(11).permutation(np.repeat(["x", "y"], [196, data.shape[0] - 196]))
    table = logistic(data, split, reference="x")
    assert table["converged"].all() and (table["n_categories"] == 4).all()
    assert table["flag"].sum() <= 1 and table["p"].between(0, 1).all()
    assert ((table["delta_r2"] >= 0) & (table["delta_r2"] < 0.035)).all()
