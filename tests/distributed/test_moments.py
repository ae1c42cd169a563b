"""Item analysis and alpha of a Dask DataFrame equal the in-memory ones, whatever the partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics import ctt, reliability
from psychometrics.errors import ResponseError

dd = pytest.importorskip("dask.dataframe")


@pytest.mark.parametrize("npartitions", [1, 4, 9])
@pytest.mark.parametrize("missing", ["pairwise", "listwise"])
def test_item_analysis_equals_in_memory(responses, npartitions, missing):
    expected = ctt.item_analysis(responses, missing=missing)
    got = ctt.item_analysis(dd.from_pandas(responses, npartitions=npartitions), missing=missing)
    pd.testing.assert_index_equal(got.index, expected.index)
    assert list(got.columns) == list(expected.columns)
    # the upper-lower index ranks persons with ties broken by row order: it must match exactly
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=0, atol=1e-10)


def test_item_analysis_of_parquet_files(responses, parquet_files):
    expected = ctt.item_analysis(responses)
    got = ctt.item_analysis(dd.read_parquet(parquet_files))
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=0, atol=1e-10)


@pytest.mark.parametrize("missing", ["pairwise", "listwise"])
def test_alpha_equals_in_memory(responses, missing):
    expected = reliability.alpha(responses, missing=missing)
    got = reliability.alpha(dd.from_pandas(responses, npartitions=6), missing=missing)
    assert got.n_persons == expected.n_persons and got.n_items == expected.n_items
    for field in ("alpha", "standardized_alpha", "ci_low", "ci_high"):
        assert getattr(got, field) == pytest.approx(getattr(expected, field), abs=1e-12)


def test_alpha_refuses_what_memory_refuses(responses):
    constant = responses.assign(q3=2.0)
    with pytest.raises(ResponseError, match="item 'q3' .* has no variance"):
        reliability.alpha(dd.from_pandas(constant, npartitions=3))
    with pytest.raises(NotImplementedError, match="bootstrap"):
        reliability.alpha(dd.from_pandas(responses, npartitions=3), n_replications=10)


def test_bad_value_names_partition_respondent_and_item(responses):
    bad = responses.copy()
    bad.loc[1234, "q5"] = 2.5
    with pytest.raises(ResponseError, match=r"partition \d+: .*r01234.*'q5'"):
        ctt.item_analysis(dd.from_pandas(bad, npartitions=5))
