"""irt.calibrate of a Dask DataFrame follows the in-memory EM path: same estimates within 1e-6,
whatever the partitioning, on the local scheduler and on a LocalCluster that loses a worker."""

from __future__ import annotations

import os
import signal
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.errors import ModelWarning, ResponseError

dd = pytest.importorskip("dask.dataframe")


def assert_same_calibration(got, expected, atol=1e-6):
    assert got.categories == expected.categories
    assert got.n_persons == expected.n_persons
    assert got.n_iter == expected.n_iter and got.converged == expected.converged
    np.testing.assert_allclose(got.slope_intercept.to_numpy(float), expected.slope_intercept.to_numpy(float),
                               rtol=0, atol=atol)
    np.testing.assert_allclose(got.history, expected.history, rtol=1e-10)
    assert got.loglik == pytest.approx(expected.loglik, rel=1e-10)


@pytest.fixture(scope="module")
def in_memory(responses):
    return irt.calibrate(responses, "graded")


@pytest.mark.parametrize("npartitions", [1, 3, 8])
def test_same_estimates_whatever_the_partitioning(responses, in_memory, npartitions):
    got = irt.calibrate(dd.from_pandas(responses, npartitions=npartitions), "graded")
    assert_same_calibration(got, in_memory)


def test_parquet_files_and_plain_em_with_se(responses, parquet_files):
    settings = dict(accelerate=False, se=True, max_iter=300)
    expected = irt.calibrate(responses, "graded", **settings)
    got = irt.calibrate(dd.read_parquet(parquet_files), "graded", **settings)
    assert_same_calibration(got, expected)
    np.testing.assert_allclose(got.standard_errors.to_numpy(float), expected.standard_errors.to_numpy(float),
                               rtol=1e-5)


def test_multigroup(responses):
    labels = np.where(np.arange(len(responses)) % 3 == 0, "focal", "reference")
    # the default reference is the largest group, here the second level
    expected = irt.calibrate(responses, "graded", group=pd.Series(labels, index=responses["respondent_id"]),
                             free_items=["q2"])
    frame = responses.assign(grp=labels)
    got = irt.calibrate(dd.from_pandas(frame, npartitions=4), "graded", group="grp", free_items=["q2"])
    assert got.groups == expected.groups == ("reference", "focal")
    for g in expected.groups:
        np.testing.assert_allclose(got.group_slope_intercept[g].to_numpy(float),
                                   expected.group_slope_intercept[g].to_numpy(float), rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.latent_mean, expected.latent_mean, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.latent_variance, expected.latent_variance, rtol=0, atol=1e-6)


def test_category_checks_as_in_memory(responses):
    constant = responses.assign(q4=np.where(responses["q4"].isna(), np.nan, 3.0))
    with pytest.raises(ResponseError, match="item 'q4' .* is constant"):
        irt.calibrate(dd.from_pandas(constant, npartitions=3), "graded")
    # code 2 of q6 never used anywhere (though each partition alone has a gap elsewhere)
    gap = responses.assign(q6=responses["q6"].replace(2.0, 1.0))
    with pytest.warns(ModelWarning, match=r"item 'q6': category 2 never used"):
        expected = irt.calibrate(gap, "graded")
    with pytest.warns(ModelWarning, match=r"item 'q6': category 2 never used"):
        got = irt.calibrate(dd.from_pandas(gap, npartitions=5), "graded")
    assert got.categories["q6"] == (1, 3, 4)
    assert_same_calibration(got, expected)


def test_what_needs_memory_is_refused(responses):
    frame = dd.from_pandas(responses, npartitions=2)
    with pytest.raises(NotImplementedError, match="weights"):
        irt.calibrate(frame, "graded", weights=np.ones(len(responses)))
    with pytest.raises(ValueError, match="tol must be positive"):
        irt.calibrate(frame, "graded", tol=0)


def test_local_cluster_survives_a_lost_worker(client, cluster, responses, in_memory, parquet_files):
    """A worker process killed in the middle of the EM: Dask recomputes its partitions from
    the files and the calibration ends where the in-memory one does."""
    frame = dd.read_parquet(parquet_files).repartition(npartitions=6)
    killed: list[int] = []

    def kill_one_worker(iteration: int, loglik: float, change: float) -> None:
        if iteration == 3 and not killed:
            pids = client.run(os.getpid)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the scheduler's notes about the lost worker
        got = irt.calibrate(frame, "graded", callback=kill_one_worker)
    assert killed and killed[0] not in client.run(os.getpid).values()
    assert_same_calibration(got, in_memory)
