"""irt.score of a Dask DataFrame: lazy, indexed by respondent id, the in-memory scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt

dd = pytest.importorskip("dask.dataframe")


@pytest.fixture(scope="module")
def calibration(responses):
    return irt.calibrate(responses, "graded")


@pytest.mark.parametrize("method", ["eap", "map", "wle"])
def test_scores_equal_in_memory(calibration, responses, method):
    expected = irt.score(calibration, responses, method=method)
    lazy = irt.score(calibration, dd.from_pandas(responses, npartitions=4), method=method)
    assert type(lazy).__module__.startswith("dask")
    got = lazy.compute()
    # Dask stores text as Arrow strings: same ids, another dtype
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(got["theta"], expected["theta"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["se"], expected["se"], rtol=0, atol=1e-9)
    assert (got["n_answered"] == expected["n_answered"]).all()
    assert (got["flag"].astype(str) == expected["flag"].astype(str)).all()


def test_scores_to_parquet(calibration, responses, parquet_files, tmp_path):
    irt.score(calibration, dd.read_parquet(parquet_files)).to_parquet(tmp_path / "scores")
    written = pd.read_parquet(tmp_path / "scores").sort_index()
    expected = irt.score(calibration, responses)
    assert written.index.name == "respondent_id" and written.shape[0] == responses.shape[0]
    np.testing.assert_allclose(written["theta"], expected["theta"], rtol=0, atol=1e-9)
