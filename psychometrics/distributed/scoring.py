"""Person scores of a Dask DataFrame: a lazy frame, one in-memory scoring per partition."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from psychometrics import scoring
from psychometrics.data import _find_id_column
from psychometrics.distributed._partitions import load_partition

__all__ = ["score"]

_FLAG = pd.StringDtype()


def _score_partition(frame: pd.DataFrame, calibration: Any, method: str, options: dict[str, Any],
                     partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    index = 0 if partition_info is None else int(partition_info.get("number", 0))
    resp = load_partition(frame, index)
    if resp is None:
        return _empty(frame.index)
    scores = scoring.score(calibration, resp, method=method, **options)
    # a column of Python strings has no Parquet type; text has
    return scores.astype({"flag": _FLAG})


def _empty(index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({"theta": np.empty(0), "se": np.empty(0), "n_answered": np.empty(0, dtype=np.int64),
                         "flag": pd.Series([], dtype=_FLAG)}, index=index[:0])


def score(calibration: Any, ddf: Any, *, method: str = "eap", **options: Any) -> Any:
    """:func:`psychometrics.scoring.score` of a Dask DataFrame, as a lazy Dask DataFrame.

    Each partition is checked and scored on its worker by the in-memory function; nothing is
    computed until the result is (``.compute()``, ``.to_parquet(path)``). Columns ``theta``,
    ``se``, ``n_answered``, ``flag``; the index holds the respondent ids (the id column, found
    as in memory, else the partitions' own index). Persons whose iterative estimate did not
    converge carry the flag ``"not_converged"`` (the warning of the in-memory function is
    raised on the worker, where nobody reads it).

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> from psychometrics.irt import Calibration
    >>> params = pd.DataFrame({"a": [1.0, 1.5], "b": [-0.5, 0.5]}, index=["q1", "q2"])
    >>> calibration = Calibration.from_item_params(params, "2pl")
    >>> frame = pd.DataFrame({"q1": [1.0, 0.0], "q2": [1.0, None]})
    >>> score(calibration, dd.from_pandas(frame, npartitions=1)).compute()["theta"].round(3).tolist()
    [0.839, -0.5]
    """
    # the empty meta frame shows names only: an id column is found by its name, as in memory
    id_name = _find_id_column(ddf._meta.reset_index(drop=True), None, None, skip=set(), max_categories=20,
                              warn=False)
    if id_name is not None:
        index = pd.Index(ddf._meta[id_name], name=id_name)
    else:
        index = ddf._meta.index
    meta = _empty(index)
    return ddf.map_partitions(_score_partition, calibration, method, dict(options), meta=meta,
                              align_dataframes=False)
