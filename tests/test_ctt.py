"""Tests of psychometrics.ctt.

Reference numbers: R psych 2.2.9, ``psych::alpha`` item.stats and alpha.drop on
tests/reference/likert_500x8.csv (R calls in tests/reference/psych_reliability.R, output
in psych_reliability.out) and on SAT12_scored.csv (tests/reference/psych_sat12.R).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychometrics import _covariance, ctt, reliability
from psychometrics.ctt import category_frequencies, distractor_analysis, item_analysis, scale_scores
from psychometrics.data import Responses
from psychometrics.errors import ResponseError

REFERENCE = Path(__file__).parent / "reference"
TOL = 1e-9

# psych::alpha(x)$item.stats and $alpha.drop$raw_alpha (pairwise)
PAIRWISE = pd.DataFrame({
    "n": [478, 472, 473, 482, 474, 477, 473, 473],
    "r_total": [0.460579093439895, 0.583642052379484, 0.521261353293136, 0.658867871179672,
                0.664618808860276, 0.695434427803734, 0.729846813089015, 0.741696442752726],
    "r_drop": [0.287007840018360, 0.420641207239713, 0.354317314503067, 0.504803405392560,
               0.527231604670246, 0.561796691396997, 0.607125768999611, 0.635121134589475],
    "mean": [3.13598326359833, 3.04661016949153, 3.06553911205074, 3.09958506224066,
             3.10759493670886, 3.06079664570231, 3.18181818181818, 3.04862579281184],
    "sd": [1.021940735876515, 1.049693693337570, 0.998906486358054, 1.118006018501840,
           1.033797427443650, 1.078082737656263, 1.067989196808296, 1.041390863022890],
    "alpha_if_deleted": [0.789796222605277, 0.769768284527730, 0.779335573255471, 0.756097340385258,
                         0.752503794737924, 0.746263576459384, 0.738515100615124, 0.734264045970815],
}, index=[f"q{j}" for j in range(1, 9)])
# psych::alpha(x[complete.cases(x), ]) (327 rows)
LISTWISE = pd.DataFrame({
    "r_total": [0.464361285777126, 0.561101821659838, 0.507924954576431, 0.665708499230063,
                0.649245642860803, 0.704483637534666, 0.705054862723972, 0.756320838967861],
    "r_drop": [0.290087676369879, 0.402437376811969, 0.347534993507892, 0.518677261792542,
               0.515501839112105, 0.576850733589008, 0.578967084276695, 0.648039186638773],
    "alpha_if_deleted": [0.787424489615944, 0.770135643473436, 0.777958006524458, 0.751007036196057,
                         0.751983289723071, 0.740970217895109, 0.740734781275406, 0.728821725519156],
}, index=[f"q{j}" for j in range(1, 9)])


@pytest.fixture(scope="module")
def likert() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "likert_500x8.csv", index_col=0)


def binary_data(rng: np.random.Generator, n_persons: int = 400, n_items: int = 6) -> pd.DataFrame:
    theta = rng.standard_normal(n_persons)
    b = np.linspace(-1, 1, n_items)
    p = 1 / (1 + np.exp(-(1.5 * (theta[:, None] - b))))
    return pd.DataFrame((rng.random(p.shape) < p).astype(float), columns=[f"b{j}" for j in range(n_items)])


# --- item_analysis: known answers ---------------------------------------------------------


def test_item_analysis_matches_psych_pairwise(likert):
    table = item_analysis(likert)
    assert list(table.index) == list(PAIRWISE.index)
    assert (table["n"] == PAIRWISE["n"]).all()
    for column in ["r_total", "r_drop", "mean", "sd", "alpha_if_deleted"]:
        np.testing.assert_allclose(table[column], PAIRWISE[column], rtol=0, atol=TOL, err_msg=column)
    np.testing.assert_allclose(table["missing_rate"], 1 - PAIRWISE["n"] / 500, rtol=0, atol=1e-15)


def test_item_analysis_matches_psych_listwise(likert):
    table = item_analysis(likert, missing="listwise")
    for column in ["r_drop", "alpha_if_deleted"]:
        np.testing.assert_allclose(table[column], LISTWISE[column], rtol=0, atol=TOL, err_msg=column)
    complete = item_analysis(likert.dropna())
    for column in LISTWISE.columns:
        np.testing.assert_allclose(complete[column], LISTWISE[column], rtol=0, atol=TOL, err_msg=column)


def test_item_analysis_sat12_matches_psych(shared_data):
    # psych::alpha on SAT12_scored.csv, first five items (tests/reference/psych_sat12.R)
    table = item_analysis(pd.read_csv(shared_data / "SAT12_scored.csv")).iloc[:5]
    assert table["n"].tolist() == [599, 599, 592, 595, 599]
    np.testing.assert_allclose(table["r_drop"], [0.305764574695591, 0.461882015121044, 0.372784466720844,
                                                 0.231544078417537, 0.337589450159350], rtol=0, atol=TOL)
    np.testing.assert_allclose(table["difficulty"], [0.283806343906511, 0.569282136894825, 0.283783783783784,
                                                     0.381512605042017, 0.621035058430718], rtol=0, atol=TOL)
    expected = [0.789985977888985, 0.782451919976968, 0.787031965843681, 0.793530492345388, 0.788542767434229]
    np.testing.assert_allclose(table["alpha_if_deleted"], expected, rtol=0, atol=TOL)


def test_alpha_if_deleted_equals_refitting(likert):
    # One covariance matrix gives the same numbers as J separate alpha fits.
    table = item_analysis(likert)
    for item in likert.columns:
        refit = reliability.alpha(likert.drop(columns=item)).alpha
        assert table.loc[item, "alpha_if_deleted"] == pytest.approx(refit, abs=1e-13)


def test_item_rest_equals_r_drop_without_missing(likert):
    table = item_analysis(likert.dropna())
    np.testing.assert_allclose(table["item_rest"], table["r_drop"], rtol=0, atol=1e-12)


def test_item_rest_with_missing_is_person_level(likert):
    table = item_analysis(likert)
    item = "q4"
    others = likert.drop(columns=item)
    rest_mean = others.mean(axis=1)  # mean of the other answered items
    keep = likert[item].notna() & others.notna().any(axis=1)
    expected = np.corrcoef(likert.loc[keep, item], rest_mean[keep])[0, 1]
    assert table.loc[item, "item_rest"] == pytest.approx(expected, abs=1e-12)
    assert table.loc[item, "item_rest"] == pytest.approx(table.loc[item, "r_drop"], abs=0.02)


def test_difficulty_binary_is_proportion_correct(rng):
    data = binary_data(rng)
    table = item_analysis(data)
    np.testing.assert_allclose(table["difficulty"], data.mean(), rtol=0, atol=1e-14)


def test_difficulty_likert_uses_highest_admissible_code(likert):
    table = item_analysis(Responses(likert, {c: (1, 2, 3, 4, 5, 6) for c in likert.columns}))
    np.testing.assert_allclose(table["difficulty"], likert.mean() / 6, rtol=0, atol=1e-14)


def test_upper_lower_discrimination_by_hand():
    # Person means 0.25 ... 1.0: with 8 persons the groups have round(0.27 * 8) = 2.
    frame = pd.DataFrame({
        "a": [0, 0, 1, 0, 1, 1, 1, 1],
        "b": [0, 1, 0, 1, 1, 0, 1, 1],
        "c": [0, 0, 0, 1, 0, 1, 1, 1],
        "d": [1, 0, 0, 0, 1, 1, 0, 1],
    }, dtype=float)
    means = frame.mean(axis=1).to_numpy()
    order = np.argsort(means, kind="stable")
    lower, upper = frame.iloc[order[:2]], frame.iloc[order[-2:]]
    expected = upper.mean() - lower.mean()
    table = item_analysis(Responses(frame, {c: (0, 1) for c in frame.columns}))
    np.testing.assert_allclose(table["discrimination"], expected, rtol=0, atol=1e-15)


def test_discrimination_divides_by_code_range(rng):
    x = rng.integers(1, 6, size=(200, 4)).astype(float)
    x[:, 1] = np.clip(x[:, 0] + rng.integers(-1, 2, 200), 1, 5)
    frame = pd.DataFrame(x, columns=list("abcd"))
    means = frame.mean(axis=1).to_numpy()
    order = np.argsort(means, kind="stable")
    size = round(0.27 * 200)
    expected = (frame.iloc[order[-size:]].mean() - frame.iloc[order[:size]].mean()) / 4
    table = item_analysis(Responses(frame, {c: (1, 2, 3, 4, 5) for c in frame.columns}))
    np.testing.assert_allclose(table["discrimination"], expected, rtol=0, atol=1e-14)


def test_item_analysis_chunked_equals_whole(likert, monkeypatch):
    whole = item_analysis(likert)
    monkeypatch.setattr(ctt, "_CHUNK_ROWS", 37)
    monkeypatch.setattr(_covariance, "_CHUNK_ROWS", 37)
    pd.testing.assert_frame_equal(item_analysis(likert), whole, rtol=1e-12, atol=1e-12)


def test_item_analysis_constant_and_sparse_items():
    frame = pd.DataFrame({"a": [1, 2, 3, 4, 2, 3], "same": [3, 3, 3, 3, 3, 3], "b": [1, 3, 3, 4, 1, 2],
                          "one": [np.nan, np.nan, 2, np.nan, np.nan, np.nan]}, dtype=float)
    table = item_analysis(Responses(frame))
    assert table.loc["same", "sd"] == 0
    assert np.isnan(table.loc["same", "r_drop"]) and np.isnan(table.loc["same", "r_total"])
    assert np.isnan(table.loc["one", "sd"]) and table.loc["one", "n"] == 1
    assert table.loc["one", "missing_rate"] == pytest.approx(5 / 6)


def test_item_analysis_bad_input(likert):
    with pytest.raises(ValueError, match="missing must be one of"):
        item_analysis(likert, missing="all")
    with pytest.raises(ResponseError, match=r"item 'q1'.*value 2.5"):
        item_analysis(likert.assign(q1=likert["q1"].replace(2.0, 2.5)))


# --- category frequencies ---------------------------------------------------------------------


def test_category_frequencies_counts(likert):
    table = category_frequencies(likert)
    for item in likert.columns:
        counts = likert[item].value_counts()
        np.testing.assert_array_equal(table.loc[item, counts.index.astype(int)].to_numpy(), counts.to_numpy())
    assert table.sum(axis=1).tolist() == likert.notna().sum().tolist()  # missing not counted
    proportions = category_frequencies(likert, proportions=True)
    np.testing.assert_allclose(proportions.sum(axis=1), 1.0, rtol=0, atol=1e-14)


def test_category_frequencies_marks_codes_not_offered():
    frame = pd.DataFrame({"x": [0, 1, 1, np.nan], "y": [1, 1, 4, 5]}, dtype=float)
    table = category_frequencies(Responses(frame, {"x": (0, 1), "y": (1, 2, 3, 4, 5)}))
    assert list(table.columns) == [0, 1, 2, 3, 4, 5]
    assert table.loc["x", 1] == 2 and np.isnan(table.loc["x", 3])
    assert table.loc["y", 2] == 0 and np.isnan(table.loc["y", 0])


# --- distractor analysis ----------------------------------------------------------------------


@pytest.fixture
def choices() -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.DataFrame({
        "m1": ["A", "A", "B", "A", "C", "A", None, "B"],
        "m2": ["C", "C", "A", "C", "B", "C", "C", "D"],
        "m3": ["B", "D", "D", "B", "B", "B", "A", None],
    })
    return frame, {"m1": "A", "m2": "C", "m3": "B"}


def test_distractor_analysis_by_hand(choices):
    frame, key = choices
    table = distractor_analysis(frame, key)
    scored = pd.DataFrame({i: (frame[i] == key[i]).astype(float) for i in frame})
    total = scored.sum(axis=1)
    given = frame["m1"].notna()
    rest = (total - scored["m1"])[given]
    row = table.loc[("m1", "B")]
    picks = (frame.loc[given, "m1"] == "B").astype(float)
    assert row["n"] == 2 and not row["is_key"]
    assert row["proportion"] == pytest.approx(2 / 7)
    assert row["mean_total"] == pytest.approx(total[frame["m1"] == "B"].mean())
    assert row["r_rest"] == pytest.approx(np.corrcoef(picks, rest)[0, 1], abs=1e-12)
    assert table.loc[("m1", "A"), "is_key"] and table.loc[("m1", "A"), "r_rest"] > 0
    assert set(table.loc["m2"].index) == {"A", "B", "C", "D"}


def test_distractor_analysis_lists_unchosen_key():
    frame = pd.DataFrame({"m1": ["B", "C", "B"], "m2": ["A", "A", "B"]})
    table = distractor_analysis(frame, {"m1": "A", "m2": "A"})
    assert table.loc[("m1", "A"), "n"] == 0 and table.loc[("m1", "A"), "is_key"]
    assert np.isnan(table.loc[("m1", "A"), "mean_total"])


def test_distractor_analysis_missing_counts_as_wrong(choices):
    frame, key = choices
    table = distractor_analysis(frame, key)
    # person 6 skipped m1: their total counts only m2 and m3
    assert table.loc["m1", "n"].sum() == 7
    assert table.loc[("m3", "A"), "mean_total"] == pytest.approx(1.0)


def test_distractor_analysis_bad_key(choices):
    frame, key = choices
    with pytest.raises(ResponseError, match=r"item 'm3' \(column 2\) has no key"):
        distractor_analysis(frame, {"m1": "A", "m2": "C"})
    with pytest.raises(ResponseError, match="keyed item 'm9' is not in the data"):
        distractor_analysis(frame, {**key, "m9": "A"})
    with pytest.raises(ResponseError, match="empty"):
        distractor_analysis(frame.iloc[:0], key)
    with pytest.raises(TypeError, match="DataFrame"):
        distractor_analysis([["A"]], key)


# --- scale scores -----------------------------------------------------------------------------

SCALES = {"s1": ["a", "b", "c", "d"], "s2": ["e", "f"]}


@pytest.fixture
def small() -> Responses:
    frame = pd.DataFrame({
        "a": [1, 2, np.nan, np.nan], "b": [3, 2, np.nan, 4], "c": [5, np.nan, np.nan, np.nan],
        "d": [3, 4, 2, np.nan], "e": [1, np.nan, 2, 5], "f": [2, np.nan, 4, 5],
    }, index=pd.Index(["r1", "r2", "r3", "r4"], name="id"), dtype=float)
    return Responses(frame)


def test_scale_scores_mean_and_sum(small):
    mean = scale_scores(small, SCALES)
    assert list(mean.columns) == ["s1", "s2"] and list(mean.index) == ["r1", "r2", "r3", "r4"]
    # r1 answers all; r2 answers 3 of 4 (s1) and 0 of 2 (s2); r3 1 of 4; r4 1 of 4
    np.testing.assert_allclose(mean["s1"], [3.0, 8 / 3, np.nan, np.nan])
    np.testing.assert_allclose(mean["s2"], [1.5, np.nan, 3.0, 5.0])
    prorated = scale_scores(small, SCALES, method="sum")
    np.testing.assert_allclose(prorated["s1"], [12.0, 32 / 3, np.nan, np.nan])
    plain = scale_scores(small, SCALES, method="sum", prorate=False)
    np.testing.assert_allclose(plain["s1"], [12.0, 8.0, np.nan, np.nan])


def test_scale_scores_min_answered(small):
    one = scale_scores(small, SCALES, min_answered=1)
    np.testing.assert_allclose(one["s1"], [3.0, 8 / 3, 2.0, 4.0])
    assert np.isnan(one.loc["r2", "s2"])  # never a score from zero items
    every = scale_scores(small, SCALES, min_answered=1.0)
    np.testing.assert_allclose(every["s1"], [3.0, np.nan, np.nan, np.nan])
    three = scale_scores(small, {"s1": SCALES["s1"]}, min_answered=3)
    assert three["s1"].notna().tolist() == [True, True, False, False]
    # 0.6 of 4 items = 2.4, rounded up to 3; of 2 items = 1.2, rounded up to 2
    share = scale_scores(small, SCALES, min_answered=0.6)
    assert share["s1"].notna().tolist() == [True, True, False, False]
    assert share["s2"].notna().tolist() == [True, False, True, True]
    zero = scale_scores(small, SCALES, min_answered=0)
    assert zero["s1"].notna().tolist() == [True, True, True, True]


def test_scale_scores_on_dataframe_matches_pandas(likert):
    scales = {"x": ["q1", "q2", "q3", "q4"], "y": ["q5", "q6", "q7", "q8"]}
    scores = scale_scores(likert, scales, min_answered=4)
    complete = likert[scales["x"]].notna().all(axis=1)
    np.testing.assert_allclose(scores.loc[complete, "x"], likert.loc[complete, scales["x"]].mean(axis=1))
    assert scores.loc[~complete, "x"].isna().all()


def test_scale_scores_bad_input(small):
    with pytest.raises(ResponseError, match="scale 's1': item 'zz' is not in the responses"):
        scale_scores(small, {"s1": ["a", "zz"]})
    with pytest.raises(ValueError, match="scale 's1' has no items"):
        scale_scores(small, {"s1": []})
    with pytest.raises(ValueError, match="listed twice"):
        scale_scores(small, {"s1": ["a", "a"]})
    with pytest.raises(ValueError, match="the string"):
        scale_scores(small, {"s1": "abc"})
    with pytest.raises(ValueError, match="method must be"):
        scale_scores(small, SCALES, method="median")
    with pytest.raises(ValueError, match=r"share must be in \(0, 1\]"):
        scale_scores(small, SCALES, min_answered=1.5)
    with pytest.raises(ValueError, match=r"share must be in \(0, 1\]"):
        scale_scores(small, SCALES, min_answered=0.0)
    with pytest.raises(ValueError, match="min_answered must be"):
        scale_scores(small, SCALES, min_answered=True)
    with pytest.raises(ValueError, match="exceeds its 2 items"):
        scale_scores(small, SCALES, min_answered=3)
    with pytest.raises(ValueError, match="non-empty mapping"):
        scale_scores(small, {})
