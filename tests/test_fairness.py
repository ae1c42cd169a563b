"""Fairness report data (psychometrics/fairness.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import ResponseError
from psychometrics.fairness import adverse_impact, group_summary

# The known-answer examples use groups far below MIN_GROUP_SIZE on purpose; the warning itself
# is tested in tests/test_groups.py.
pytestmark = pytest.mark.filterwarnings("ignore:group\\(s\\).*MIN_GROUP_SIZE:psychometrics.errors.DataWarning")


def test_group_summary_matches_r():
    # R: x <- c(1, 2, 3, 7, 3.5); y <- c(2, 3, 4, 5, 6, 8, 2)
    #    sp <- sqrt((4 * var(x) + 6 * var(y)) / 10); d <- (mean(y) - mean(x)) / sp
    #    d = 0.439820671758; g = d * gamma(5) / (sqrt(5) * gamma(4.5)) = 0.405842593196
    #    quantile(y, c(.1, .25, .5, .75, .9)) = 2, 2.5, 4, 5.5, 6.8; sd(x) = 2.280351, sd(y) = 2.214670
    scores = [1, 2, 3, 7, 3.5, 2, 3, 4, 5, 6, 8, 2]
    group = ["x"] * 5 + ["y"] * 7
    table = group_summary(scores, group, reference="x")
    assert table.loc["y", "d"] == pytest.approx(0.439820671758, rel=1e-10)
    assert table.loc["y", "g"] == pytest.approx(0.405842593196, rel=1e-10)
    assert table.loc["x", "d"] == 0.0
    assert table.loc["x", "sd"] == pytest.approx(2.280351, abs=1e-6)
    assert table.loc["y", "sd"] == pytest.approx(2.214670, abs=1e-6)
    np.testing.assert_allclose(table.loc["y", ["q10", "q25", "q50", "q75", "q90"]].to_numpy(float),
                               [2, 2.5, 4, 5.5, 6.8], rtol=1e-12)
    assert table.loc["y", ["n", "min", "max"]].tolist() == [7, 2, 8]
    assert table.reference_group == "x" and table.loc["x", "is_reference"]
    # Hedges' correction is close to its approximation 1 - 3 / (4 df - 1)
    assert table.loc["y", "g"] / table.loc["y", "d"] == pytest.approx(1 - 3 / 39, abs=1e-3)


def test_group_summary_simulated_effect(rng):
    n = 4000
    group = np.repeat(["a", "b", "c"], [n, n, n // 2])
    scores = rng.normal(size=group.size) + np.select([group == "b", group == "c"], [0.5, -0.3], 0.0)
    table = group_summary(pd.Series(scores), group)
    assert table.reference_group == "a"          # largest group, first in sorted order on a tie
    assert table.loc["b", "d"] == pytest.approx(0.5, abs=0.06)
    assert table.loc["c", "d"] == pytest.approx(-0.3, abs=0.07)


def test_group_summary_missing_scores_and_alignment():
    scores = pd.Series([1.0, np.nan, 3.0, 2.0, 4.0, np.nan], index=list("uvwxyz"))
    group = pd.Series(["m", "m", "m", "f", "f", "f"], index=list("uvwxyz")).iloc[::-1]
    table = group_summary(scores, group, reference="m")
    assert table.loc["m", "n"] == 2 and table.loc["m", "n_missing"] == 1
    assert table.loc["f", "mean"] == 3.0 and table.loc["m", "mean"] == 2.0
    assert table.loc["f", "d"] == pytest.approx(1 / np.sqrt(2.0))


def test_adverse_impact_matches_r():
    # 100 persons per group; 45 of group "a" and 30 of group "b" pass.
    # R: fisher.test(matrix(c(30, 70, 45, 55), 2, byrow = TRUE))$p.value = 0.040534006515
    #    prop.test(c(30, 45), c(100, 100), correct = FALSE): X-squared 4.8, p 0.0284597369
    scores = np.concatenate([np.r_[np.ones(45), np.zeros(55)], np.r_[np.ones(30), np.zeros(70)]])
    group = np.repeat(["a", "b"], 100)
    table = adverse_impact(scores, group, cut=1)
    assert table.reference_group == "a"            # highest pass rate
    assert table.loc["b", "pass_rate"] == 0.30
    assert table.loc["b", "impact_ratio"] == pytest.approx(30 / 45, rel=1e-12)
    assert table.loc["b", "adverse_impact"] and not table.loc["a", "adverse_impact"]
    assert table.loc["b", "z"] == pytest.approx(-np.sqrt(4.8), rel=1e-12)
    assert table.loc["b", "p_z"] == pytest.approx(0.0284597369, rel=1e-8)
    assert table.loc["b", "p_fisher"] == pytest.approx(0.040534006515, rel=1e-9)
    assert np.isnan(table.loc["a", "z"]) and np.isnan(table.loc["a", "p_fisher"])


def test_adverse_impact_four_fifths_boundary_direction_and_missing():
    # rates 0.5 and 0.4: ratio exactly 0.8 is not below four fifths
    scores = np.r_[np.arange(10.0), np.arange(10.0) - 1, np.nan]
    group = ["a"] * 10 + ["b"] * 10 + ["b"]
    table = adverse_impact(scores, group, cut=5)
    assert table.loc["b", "impact_ratio"] == pytest.approx(0.8)
    assert not table.loc["b", "adverse_impact"]
    assert table.loc["b", "n"] == 10
    lower = adverse_impact(scores, group, cut=3, higher_passes=False)
    assert lower.loc["a", "pass_rate"] == 0.4 and lower.loc["b", "pass_rate"] == 0.5
    assert lower.reference_group == "b"
    stated = adverse_impact(scores, group, cut=5, reference="b")
    assert stated.loc["a", "impact_ratio"] == pytest.approx(1.25)


def test_nobody_passes_in_the_reference_gives_nan_ratio():
    table = adverse_impact([1, 2, 3, 1, 2, 3], list("aaabbb"), cut=10, reference="a")
    assert np.isnan(table.loc["b", "impact_ratio"]) and np.isnan(table.loc["b", "z"])
    assert not table["adverse_impact"].any()


def test_bad_input_raises_clear_errors():
    with pytest.raises(ResponseError, match="at least two groups.*'a'"):
        group_summary([1.0, 2.0, 3.0], ["a", "a", "a"])
    with pytest.raises(ResponseError, match="group has 2 entries but there are 3 scores"):
        adverse_impact([1.0, 2.0, 3.0], ["a", "b"], cut=2)
    with pytest.raises(ResponseError, match=r"missing for 1 person\(s\): respondent 1 \(row 1\)"):
        group_summary([1.0, 2.0, 3.0], ["a", None, "b"])
    with pytest.raises(ResponseError, match="reference group 'z' does not occur"):
        adverse_impact([1.0, 2.0, 3.0], ["a", "b", "b"], cut=2, reference="z")
    with pytest.raises(ResponseError, match="numeric"):
        group_summary(["low", "high", "mid"], ["a", "b", "b"])
    with pytest.raises(ResponseError, match="infinite"):
        group_summary([1.0, np.inf, 3.0], ["a", "b", "b"])
    with pytest.raises(ResponseError, match="no non-missing score"):
        adverse_impact([np.nan, 2.0, 3.0], ["a", "b", "b"], cut=2)
    with pytest.raises(ResponseError, match="reference group 'a' has 1 non-missing"):
        group_summary([1.0, 2.0, 3.0], ["a", "b", "b"], reference="a")
    with pytest.raises(ResponseError, match="one column"):
        group_summary(pd.DataFrame({"s": [1.0, 2.0], "t": [1.0, 2.0]}), ["a", "b"])
    with pytest.raises(ValueError, match="cut"):
        adverse_impact([1.0, 2.0], ["a", "b"], cut=np.nan)
