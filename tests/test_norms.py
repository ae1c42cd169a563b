"""Tests of psychometrics.norms.

Known answers: T = 50 + 10 z by definition; normal-CDF percentiles from the standard normal
table (Phi(1) = 0.841344746, Phi(-1.96) = 0.0249979); mid-rank percentile ranks and stanine
bands (4-7-12-17-20-17-12-7-4 %) worked by hand below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.norms import NormTable, norm_scores


def test_z_and_t_from_given_mean_sd():
    scores = norm_scores(pd.Series([40.0, 50.0, 65.0], index=["a", "b", "c"]), mean=50.0, sd=10.0)
    assert list(scores.columns) == ["z", "t", "percentile", "stanine"]
    assert list(scores.index) == ["a", "b", "c"]
    np.testing.assert_allclose(scores["z"], [-1.0, 0.0, 1.5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(scores["t"], [40.0, 50.0, 65.0], rtol=0, atol=1e-13)


def test_normal_percentiles_without_sample():
    scores = norm_scores(pd.Series([60.0, 30.4, 50.0]), mean=50.0, sd=10.0)
    # Standard normal table: Phi(1) = 0.8413447461, Phi(-1.96) = 0.0249978952
    np.testing.assert_allclose(scores["percentile"], [84.13447461, 2.49978952, 50.0], rtol=0, atol=1e-7)
    assert scores["stanine"].tolist() == [7.0, 1.0, 5.0]


def test_mid_rank_percentiles_in_sample():
    sample = pd.Series([1, 2, 2, 3, 4, 5, 5, 5, 6, 7], dtype=float)
    scores = norm_scores(pd.Series([0.0, 2.0, 5.0, 7.0, 8.0, 4.5]), sample=sample)
    # PR = 100 (below + equal / 2) / n: 2 -> (1 + 1) / 10, 5 -> (5 + 1.5) / 10, 7 -> (9 + .5) / 10
    np.testing.assert_allclose(scores["percentile"], [0.0, 20.0, 65.0, 95.0, 100.0, 50.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores["z"], (np.array([0, 2, 5, 7, 8, 4.5]) - sample.mean()) / sample.std(),
                               rtol=0, atol=1e-14)
    # stanine from PR: < 4 -> 1; [11, 23) -> 3; [60, 77) -> 6; [89, 96) -> 8; >= 96 -> 9; [40, 60) -> 5
    assert scores["stanine"].tolist() == [1.0, 3.0, 6.0, 8.0, 9.0, 5.0]


def test_stanine_band_edges():
    table = NormTable(scores=np.arange(100.0), mean=49.5, sd=29.0)
    # Score k has PR k + 0.5; band edges at 4, 11, 23, 40, 60, 77, 89, 96
    scores = table.transform(np.array([3.0, 3.5, 10.0, 10.5, 95.0, 95.5]))
    np.testing.assert_allclose(scores["percentile"], [3.5, 4.0, 10.5, 11.0, 95.5, 96.0])
    assert scores["stanine"].tolist() == [1.0, 2.0, 2.0, 3.0, 8.0, 9.0]


def test_stanine_proportions_on_large_sample(rng):
    sample = rng.standard_normal(100_000)
    stanines = norm_scores(pd.Series(sample), sample=sample)["stanine"]
    shares = stanines.value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(shares, [0.04, 0.07, 0.12, 0.17, 0.20, 0.17, 0.12, 0.07, 0.04], atol=0.002)


def test_missing_raw_scores_stay_missing():
    scores = norm_scores(pd.Series([1.0, np.nan, 3.0]), sample=[1.0, 2.0, 3.0, 4.0])
    assert scores.iloc[1].isna().all()
    assert scores.iloc[[0, 2]].notna().all().all()


def test_sample_missing_values_ignored():
    with_nan = NormTable.from_sample(pd.Series([1.0, np.nan, 3.0, 5.0]))
    assert with_nan.n == 3 and with_nan.mean == pytest.approx(3.0) and with_nan.sd == pytest.approx(2.0)


def test_self_norming_when_nothing_given():
    raw = pd.Series([2.0, 4.0, 6.0, 8.0])
    scores = norm_scores(raw)
    np.testing.assert_allclose(scores["z"], (raw - raw.mean()) / raw.std(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(scores["percentile"], [12.5, 37.5, 62.5, 87.5])


def test_mean_sd_override_sample_for_z():
    scores = norm_scores(pd.Series([3.0]), mean=0.0, sd=1.0, sample=[1.0, 2.0, 3.0, 4.0])
    assert scores["z"].iloc[0] == 3.0
    assert scores["percentile"].iloc[0] == pytest.approx(62.5)


def test_dataframe_per_column():
    raw = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [30.0, 40.0, np.nan]}, index=["p1", "p2", "p3"])
    sample = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [20.0, 30.0, 40.0, 50.0]})
    scores = norm_scores(raw, sample=sample)
    assert scores.columns.nlevels == 2 and list(scores.index) == ["p1", "p2", "p3"]
    pd.testing.assert_frame_equal(scores["a"], norm_scores(raw["a"], sample=sample["a"]), check_names=False)
    assert np.isnan(scores.loc["p3", ("b", "z")])
    by_mapping = norm_scores(raw, mean={"a": 2.0, "b": 35.0}, sd={"a": 1.0, "b": 5.0})
    np.testing.assert_allclose(by_mapping[("b", "z")].iloc[:2], [-1.0, 1.0])
    shared = norm_scores(raw, mean=2.0, sd=1.0)
    np.testing.assert_allclose(shared[("a", "z")], [-1.0, 0.0, 1.0])
    tables = {"a": NormTable.from_sample([1.0, 2.0, 3.0, 4.0]), "b": NormTable.from_sample([20.0, 50.0])}
    np.testing.assert_allclose(norm_scores(raw, sample=tables)[("b", "percentile")].iloc[:2], [50.0, 50.0])


def test_norm_table_conversion_frame():
    table = NormTable.from_sample(pd.Series([1, 2, 2, 3], dtype=float, name="team"))
    assert table.name == "team" and table.n == 4
    frame = table.to_frame()
    assert list(frame.index) == [1.0, 2.0, 3.0]
    assert frame["frequency"].tolist() == [1, 2, 1]
    np.testing.assert_allclose(frame["percentile"], [12.5, 50.0, 87.5])
    raw = pd.Series([2.0])
    pd.testing.assert_frame_equal(table.transform(raw), norm_scores(raw, sample=table))


def test_bad_input():
    with pytest.raises(ValueError, match="give both mean and sd"):
        norm_scores(pd.Series([1.0, 2.0]), mean=1.0)
    with pytest.raises(ValueError, match="sd must be a positive number"):
        norm_scores(pd.Series([1.0, 2.0]), mean=1.0, sd=0.0)
    with pytest.raises(ValueError, match="has no variance"):
        norm_scores(pd.Series([1.0, 2.0]), sample=[3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="at least 2 non-missing"):
        NormTable.from_sample([np.nan, 1.0])
    with pytest.raises(ValueError, match="must be numeric"):
        norm_scores(pd.Series(["a", "b"]), mean=0.0, sd=1.0)
    with pytest.raises(ValueError, match="has no column 'b'"):
        norm_scores(pd.DataFrame({"a": [1.0], "b": [2.0]}), sample=pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="no value for column 'b'"):
        norm_scores(pd.DataFrame({"a": [1.0], "b": [2.0]}), mean={"a": 0.0}, sd={"a": 1.0, "b": 1.0})
    with pytest.raises(ValueError, match="must be numbers"):
        norm_scores(pd.Series([1.0]), mean={"a": 0.0}, sd=1.0)
