"""Shared pieces of the Dask tests: simulated graded responses and one small LocalCluster.

The cluster (two worker processes of one thread each, on 127.0.0.1, no dashboard) is started
once per session and only by the tests that ask for it; everything else runs on Dask's local
threaded scheduler.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

N_PERSONS = 1500
N_ITEMS = 8


def graded_responses(n_persons: int, n_items: int, seed: int, missing: float = 0.1) -> pd.DataFrame:
    """Graded responses coded 1..4 with ``missing`` of them absent, and a ``respondent_id``
    column (the partitions of a Parquet data set restart their row labels)."""
    from psychometrics import simulate

    rng = np.random.default_rng(seed)
    params = pd.DataFrame({"a": rng.uniform(0.8, 2.0, n_items), "b1": rng.uniform(-2.0, -1.0, n_items),
                           "b2": rng.uniform(-0.5, 0.5, n_items), "b3": rng.uniform(1.0, 2.0, n_items)},
                          index=[f"q{j + 1}" for j in range(n_items)])
    frame = simulate.simulate(params, n_persons, model="graded", missing=missing, seed=rng,
                              categories={item: (1, 2, 3, 4) for item in params.index})
    frame = frame.reset_index(drop=True)
    frame.insert(0, "respondent_id", [f"r{i:05d}" for i in range(n_persons)])
    return frame


@pytest.fixture(scope="session")
def responses() -> pd.DataFrame:
    return graded_responses(N_PERSONS, N_ITEMS, seed=20261203)


@pytest.fixture(scope="session")
def parquet_files(responses: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The responses as five Parquet files of unequal length; returns their glob."""
    folder = tmp_path_factory.mktemp("responses")
    cuts = [0, 200, 500, 510, 1100, N_PERSONS]
    for i, (start, stop) in enumerate(zip(cuts[:-1], cuts[1:])):
        responses.iloc[start:stop].astype({f"q{j + 1}": "Int8" for j in range(N_ITEMS)}).to_parquet(
            Path(folder) / f"part-{i}.parquet", index=False)
    return str(Path(folder) / "*.parquet")


@pytest.fixture(scope="session")
def cluster():
    """A LocalCluster of two single-threaded worker processes (started on first use)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, scheduler_port=0, memory_limit="1GiB") as local:
        yield local


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster) as connected:
        yield connected


def pytest_collection_modifyitems(items):
    # Dask's Parquet reader still passes inplace= to pandas (deprecated in pandas 3.1): not ours
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning"))
