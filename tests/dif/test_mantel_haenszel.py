"""Mantel-Haenszel DIF (psychometrics/dif/mantel_haenszel.py) and the shared DIF helpers."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychometrics.data import as_responses
from psychometrics.dif import (
    adjust_pvalues,
    ets_class,
    mantel_haenszel,
    mantel_haenszel_table,
    matching_scores,
    ztm_class,
)
from psychometrics.errors import DataWarning, ResponseError

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


# ----------------------------------------------------------------------------- known answers

def test_hand_derived_2x2x3_table():
    # Strata (A, B, C, D) = reference correct/incorrect, focal correct/incorrect:
    # (8, 4, 5, 7), (15, 5, 10, 10), (6, 2, 4, 4). Holland & Thayer (1988), eqs. for alpha_MH
    # and chi2_MH with continuity correction (Mantel & Haenszel, 1959).
    table = np.array([[[4, 8], [7, 5]], [[5, 15], [10, 10]], [[2, 6], [4, 4]]])  # (K, group, [0, 1])
    alpha = (8 * 7 / 24 + 15 * 10 / 40 + 6 * 4 / 16) / (4 * 5 / 24 + 5 * 10 / 40 + 2 * 4 / 16)
    sum_a = 8 + 15 + 6
    expected = 12 * 13 / 24 + 20 * 25 / 40 + 8 * 10 / 16
    variance = (12 * 12 * 13 * 11 / (24**2 * 23) + 20 * 20 * 25 * 15 / (40**2 * 39)
                + 8 * 8 * 10 * 6 / (16**2 * 15))
    chi2_cc = (abs(sum_a - expected) - 0.5) ** 2 / variance
    res = mantel_haenszel_table(table)
    assert res["alpha_mh"] == pytest.approx(alpha, rel=1e-12)
    assert res["chi2_mh"] == pytest.approx(chi2_cc, rel=1e-12)
    assert res["delta_mh"] == pytest.approx(-2.35 * np.log(alpha), rel=1e-12)
    # R: t <- array(c(8,5,4,7, 15,10,5,10, 6,4,2,4), dim = c(2,2,3)); mantelhaen.test(t)
    #    X-squared 4.08414839798, common odds ratio 2.93548387097, 95% CI 1.15242339484 7.47734347924;
    #    mantelhaen.test(t, correct = FALSE): 5.04215851602
    assert res["chi2_mh"] == pytest.approx(4.08414839798, rel=1e-10)
    assert mantel_haenszel_table(table, correct=False)["chi2_mh"] == pytest.approx(5.04215851602, rel=1e-10)
    log_se = (np.log(7.47734347924) - np.log(2.93548387097)) / 1.959963984540054
    assert res["log_alpha_se"] == pytest.approx(log_se, rel=1e-9)
    assert res["delta_se"] == pytest.approx(2.35 * log_se, rel=1e-9)


def test_hand_derived_mantel_polytomous_table():
    # Mantel (1963) on two strata, scores 0, 1, 2. Rows: reference, focal.
    table = np.array([[[3, 4, 3], [5, 3, 2]], [[1, 5, 6], [2, 6, 4]]])
    y = np.array([0.0, 1.0, 2.0])
    f_sum = e_sum = v_sum = 0.0
    for k in range(2):
        ref, foc = table[k]
        margin = ref + foc
        n_r, n_f, total = ref.sum(), foc.sum(), margin.sum()
        f_sum += foc @ y
        e_sum += n_f * (margin @ y) / total
        v_sum += n_r * n_f / (total**2 * (total - 1)) * (total * (margin @ y**2) - (margin @ y) ** 2)
    res = mantel_haenszel_table(table, scores=y)
    assert res["chi2_mantel"] == pytest.approx((f_sum - e_sum) ** 2 / v_sum, rel=1e-12)
    # SMD with focal weights: strata sizes of the focal group are 10 and 12.
    smd = (10 * ((3 + 4) / 10 - (4 + 6) / 10) + 12 * ((6 + 8) / 12 - (5 + 12) / 12)) / 22
    assert res["smd"] == pytest.approx(smd, rel=1e-12)
    assert "alpha_mh" not in res


def test_binary_matches_r_mantelhaen_test(reference_lines):
    # tests/reference/dif_reference.R: mantelhaen.test per item, strata = total score
    data = pd.read_csv(REFERENCE / "dif_binary.csv")
    ref = reference_lines("MH")
    table = mantel_haenszel(data, "group", reference="r", adjust="none")
    plain = mantel_haenszel(data, "group", reference="r", adjust="none", correct=False)
    for item, values in ref.items():
        assert table.loc[item, "chi2"] == pytest.approx(values["chi2_cc"], rel=1e-9)
        assert plain.loc[item, "chi2"] == pytest.approx(values["chi2"], rel=1e-9)
        assert table.loc[item, "alpha_mh"] == pytest.approx(values["alpha"], rel=1e-9)
        assert table.loc[item, "delta_se"] / 2.35 == pytest.approx(values["log_se"], rel=1e-8)
        assert table.loc[item, "p"] == pytest.approx(values["p_cc"], rel=1e-8)
    assert table.loc["b1", "flag"] and table.loc["b1", "delta_mh"] < 0   # planted against the focal group
    assert table["flag"].sum() == 1


def test_polytomous_matches_r_generalized_mh_and_mantel(reference_lines):
    # tests/reference/dif_reference.R: mantelhaen.test on 2 x 4 x K tables (GMH, df 3) and the
    # Mantel (1963) score statistic by formula
    data = pd.read_csv(REFERENCE / "dif_ordinal.csv")
    ref = reference_lines("GMH")
    mantel = mantel_haenszel(data, "group", reference="r", adjust="none")
    gmh = mantel_haenszel(data, "group", reference="r", adjust="none", polytomous="gmh")
    for item, values in ref.items():
        assert gmh.loc[item, "chi2"] == pytest.approx(values["chi2"], rel=1e-9)
        assert gmh.loc[item, "df"] == values["df"]
        assert mantel.loc[item, "chi2"] == pytest.approx(values["mantel"], rel=1e-9)
    assert np.isnan(mantel["alpha_mh"]).all()
    assert mantel.loc["o1", "smd"] < 0 and mantel.loc["o1", "flag"]
    assert set(mantel["dif_class"]) <= {"AA", "BB", "CC"}


def test_adjust_pvalues_matches_r_p_adjust():
    # R: p.adjust(c(0.001, 0.04, 0.03, 0.2, 0.011, 0.5), "holm" / "BH")
    p = [0.001, 0.04, 0.03, 0.2, 0.011, 0.5]
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.006, 0.12, 0.12, 0.4, 0.055, 0.5], atol=1e-12)
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), [0.006, 0.06, 0.06, 0.24, 0.033, 0.5], atol=1e-12)
    with_nan = adjust_pvalues([0.01, np.nan, 0.04], "holm")
    np.testing.assert_allclose(with_nan, [0.02, np.nan, 0.04])
    np.testing.assert_array_equal(adjust_pvalues(p, "none"), p)
    with pytest.raises(ValueError, match="adjustment"):
        adjust_pvalues(p, "bonferroni")


def test_ets_and_ztm_classification_rules():
    # ETS (Zwick 2012): A if not significant or |D| < 1; C if |D| >= 1.5 and |D| - 1 > 1.645 SE
    delta = [0.5, 1.2, -1.6, 1.6, 2.0, 1.2]
    se = [0.1, 0.1, 0.2, 0.4, 0.1, 0.1]
    p = [0.001, 0.001, 0.001, 0.001, 0.2, 0.001]
    assert list(ets_class(delta, se, p)) == ["A", "B", "C", "B", "A", "B"]
    # ZTM (1997): AA if not significant or |ES| <= .17, CC if significant and |ES| > .25
    assert list(ztm_class([0.1, 0.2, -0.3, 0.3], [0.001, 0.001, 0.001, 0.3])) == ["AA", "BB", "CC", "AA"]


# ----------------------------------------------------------------------------- matching score

def test_matching_score_prorates_and_rest_excludes_the_item():
    values = np.array([[1.0, 0.0, 1.0, 1.0], [1.0, np.nan, 1.0, 0.0], [np.nan, np.nan, np.nan, np.nan]])
    anchors = np.array([True, True, True, False])
    total = matching_scores(values, anchors, matching="total")
    # person 1, item 1 (an anchor): 3 matching items, 3 answered, sum 2
    assert total[0, 0] == 2.0
    # item 4 is not an anchor: it joins its own score -> 4 items, sum 3
    assert total[0, 3] == 3.0
    # person 2 answered 2 of the 3 anchors (sum 2): prorated 2 * 3 / 2 = 3
    assert total[1, 0] == pytest.approx(3.0)
    # for item 4 the 4 matching items of person 2: 3 answered, sum 2 -> 2 * 4 / 3
    assert total[1, 3] == pytest.approx(8 / 3)
    rest = matching_scores(values, anchors, matching="rest")
    assert rest[0, 0] == 1.0            # items 2 and 3
    assert rest[1, 0] == pytest.approx(2.0)  # item 3 only answered of items 2, 3: 1 * 2 / 1
    assert np.isnan(total[2]).all()


# ----------------------------------------------------------------------------- simulated DIF

def test_planted_uniform_dif_is_flagged_and_others_are_not(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 1000, 12, uniform={2: 0.8, 7: -0.8})
    table = mantel_haenszel(data, group, reference="ref", purify=True)
    assert set(table.index[table["flag"]]) == {"i03", "i08"}
    # i03 harder for the focal group: alpha > 1, delta negative; i08 the reverse
    assert table.loc["i03", "delta_mh"] < -1 and table.loc["i08", "delta_mh"] > 1
    assert table.loc["i03", "smd"] < 0 < table.loc["i08", "smd"]
    assert not table.loc["i03", "anchor"] and table["anchor"].sum() == 10
    assert table.reference_group == "ref"
    assert (table["focal"] == "foc").all()


def test_polytomous_planted_dif(rng):
    n = 1500
    theta = rng.normal(size=n)
    group = np.repeat(["a", "b", "c"], n // 3)
    thresholds = np.array([-1.2, 0.0, 1.2])
    shift = np.zeros((n, 6))
    shift[group == "b", 0] = 0.9
    cumulative = 1 / (1 + np.exp(-1.3 * (theta[:, None, None] - thresholds - shift[:, :, None])))
    y = (rng.random((n, 6))[:, :, None] < cumulative).sum(axis=2) + 1.0  # codes 1-4
    data = pd.DataFrame(y, columns=[f"s{j}" for j in range(6)])
    table = mantel_haenszel(data, group, reference="a")
    assert table.index.names == ["focal_group", "item"]
    assert set(table.index[table["flag"]]) == {("b", "s0")}
    assert table.loc[("b", "s0"), "dif_class"] in {"BB", "CC"}
    assert (table["n_categories"] == 4).all()


# ----------------------------------------------------------------------------- missing data

def test_missing_responses_exclude_person_for_that_item_only(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 300, 8, uniform={0: 1.0}, missing=0.1)
    table = mantel_haenszel(data, group, reference="ref")
    observed = data.notna()
    for item in data.columns:
        assert table.loc[item, "n_reference"] == observed.loc[group == "ref", item].sum()
        assert table.loc[item, "n_focal"] == observed.loc[group == "foc", item].sum()
    assert table.loc["i01", "flag"]


def test_missing_prorated_score_equals_manual_strata(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 200, 6, missing=0.15)
    table = mantel_haenszel(data, group, reference="ref", adjust="none")
    values = data.to_numpy()
    seen = ~np.isnan(values)
    score = np.nansum(values, axis=1) * 6 / seen.sum(axis=1)
    keep = seen[:, 2]
    strata = np.floor(score[keep] + 0.5).astype(int)
    g = (group[keep] == "foc").astype(int)
    yv = values[keep, 2].astype(int)
    manual = np.zeros((7, 2, 2))
    np.add.at(manual, (strata, g, yv), 1)
    res = mantel_haenszel_table(manual)
    assert table.loc["i03", "chi2"] == pytest.approx(res["chi2_mh"], rel=1e-12)
    assert table.loc["i03", "alpha_mh"] == pytest.approx(res["alpha_mh"], rel=1e-12)


def test_sat12_random_split_shows_little_dif(shared_data):
    # Real dichotomous data with omitted responses; a random split should rarely flag items.
    data = pd.read_csv(shared_data / "SAT12_scored.csv")
    data = data.select_dtypes("number")
    split = np.random.default_rng(7).permutation(np.repeat(["x", "y"], [300, data.shape[0] - 300]))
    table = mantel_haenszel(data, split, reference="x")
    assert table["flag"].sum() <= 1
    assert (table["n_reference"] + table["n_focal"] <= data.shape[0]).all()
    assert np.isfinite(table["chi2"]).sum() >= 30


# ----------------------------------------------------------------------------- groups and input

def test_group_by_series_aligned_on_ids_and_by_column_name(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 100, 5)
    by_array = mantel_haenszel(data, group, reference="ref")
    shuffled = pd.Series(group, index=data.index).sample(frac=1.0, random_state=1)
    by_series = mantel_haenszel(data, shuffled, reference="ref")
    pd.testing.assert_frame_equal(by_array, by_series)
    by_column = mantel_haenszel(data.assign(sex=group), "sex", reference="ref")
    pd.testing.assert_frame_equal(by_array, by_column)
    # default reference: the largest group (ties: first label in sorted order -> "foc")
    assert mantel_haenszel(data, group).reference_group == "foc"


def test_bad_group_input_raises_clear_errors(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 100, 5)
    with pytest.raises(ResponseError, match="at least two groups.*'ref'"):
        mantel_haenszel(data, np.repeat("ref", 200))
    with pytest.raises(ResponseError, match="group has 199 entries but the responses have 200 persons"):
        mantel_haenszel(data, group[:-1])
    labels = group.astype(object)
    labels[[3, 150]] = None
    with pytest.raises(ResponseError, match=re.escape("missing for 2 person(s): respondent 'p3' (row 3)")):
        mantel_haenszel(data, labels)
    small = group.astype(object)
    small[:12] = "tiny"
    with pytest.raises(ResponseError, match="focal group 'tiny' has 12 persons.*at least 50"):
        mantel_haenszel(data, small, reference="ref")
    # a small group that is not compared is allowed
    assert len(mantel_haenszel(data, small, reference="ref", focal="foc")) == 5
    with pytest.raises(ResponseError, match="reference group 'men' does not occur"):
        mantel_haenszel(data, group, reference="men")
    with pytest.raises(ResponseError, match="both the reference and a focal"):
        mantel_haenszel(data, group, reference="ref", focal="ref")
    with pytest.raises(ResponseError, match="'sex' is not among the columns"):
        mantel_haenszel(data, "sex")
    with pytest.raises(ValueError, match="alpha"):
        mantel_haenszel(data, group, alpha=1.5)
    with pytest.raises(ValueError, match="polytomous"):
        mantel_haenszel(data, group, polytomous="ordinal")
    with pytest.raises(ResponseError, match="group must be one-dimensional"):
        mantel_haenszel(data, np.stack([group, group], axis=1))


def test_item_without_focal_answers_gives_nan_and_warning(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 100, 5)
    data.loc[group == "foc", "i02"] = np.nan
    with pytest.warns(DataWarning, match="no DIF statistic for item\\(s\\) 'i02'"):
        table = mantel_haenszel(data, group, reference="ref")
    assert np.isnan(table.loc["i02", "chi2"]) and not table.loc["i02", "flag"]
    assert table.loc["i02", "n_focal"] == 0


def test_accepts_responses_and_ndarray(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 100, 5)
    from_frame = mantel_haenszel(data, group, reference="ref")
    from_responses = mantel_haenszel(as_responses(data), group, reference="ref")
    pd.testing.assert_frame_equal(from_frame, from_responses)
    from_array = mantel_haenszel(data.to_numpy(), group, reference="ref")
    np.testing.assert_allclose(from_array["chi2"].to_numpy(), from_frame["chi2"].to_numpy())


def test_purification_stops_on_a_stable_anchor_set(rng, simulate_2pl):
    data, group = simulate_2pl(rng, 800, 12, uniform={0: 1.0, 1: 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = mantel_haenszel(data, group, reference="ref", purify=True)
    assert set(table.index[~table["anchor"]]) == set(table.index[table["flag"]]) == {"i01", "i02"}
    assert table.iterations >= 2
    unpurified = mantel_haenszel(data, group, reference="ref")
    assert unpurified["anchor"].all() and unpurified.iterations == 1


def test_purification_warns_when_every_item_is_flagged(rng, simulate_2pl):
    # 3 of 10 items with large DIF in one direction contaminate the total score so much that
    # every item is flagged: no anchor set is left, and the first pass is reported.
    data, group = simulate_2pl(rng, 800, 10, uniform={0: 1.0, 1: 1.0, 2: 1.0})
    with pytest.warns(DataWarning, match="purification of focal group 'foc' stopped"):
        table = mantel_haenszel(data, group, reference="ref", purify=True)
    assert table["anchor"].all() and table["flag"].all()


def test_rest_score_matching_and_bh_adjustment():
    # matching="rest": strata are the total of the other five items
    data = pd.read_csv(REFERENCE / "dif_binary.csv")
    table = mantel_haenszel(data, "group", reference="r", matching="rest", adjust="bh")
    items = data.drop(columns="group").to_numpy(float)
    rest = items.sum(axis=1) - items[:, 1]
    manual = np.zeros((6, 2, 2))
    np.add.at(manual, (rest.astype(int), (data["group"] == "f").to_numpy().astype(int), items[:, 1].astype(int)), 1)
    assert table.loc["b2", "chi2"] == pytest.approx(mantel_haenszel_table(manual)["chi2_mh"], rel=1e-12)
    np.testing.assert_allclose(table["p_adjusted"], adjust_pvalues(table["p"], "bh"))
    assert table.matching == "rest" and table.adjust == "bh"
