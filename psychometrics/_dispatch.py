"""Hand Dask DataFrames to :mod:`psychometrics.distributed`.

The verbs (``irt.calibrate``, ``irt.score``, ``ctt.item_analysis``, ``reliability.alpha``)
take a Dask DataFrame as well as data in memory. They recognise one here without importing
Dask, and the distributed drivers, which sit above them, are imported by name only when such
a frame arrives: Dask stays an optional dependency and the layers stay one-way.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["is_dask", "backend"]


def is_dask(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (Dask itself is not imported)."""
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "to_delayed") \
        and hasattr(data, "columns")


def backend() -> ModuleType:
    """:mod:`psychometrics.distributed`; says which extra to install when Dask is missing."""
    try:
        return importlib.import_module("psychometrics.distributed")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("dask", "distributed"):
            raise ModuleNotFoundError(f"a Dask DataFrame needs Dask: pip install 'psychometrics[dask]' "
                                      f"({exc})", name=exc.name) from None
        raise
