"""psychometrics: IRT, classical test theory, reliability and factor analysis.

The public API is a small set of verbs grouped by module::

    from psychometrics import Instrument, load_responses
    from psychometrics import ctt, reliability, irt, factor

Submodules are imported on first use so that ``import psychometrics`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SUBMODULES = {
    "agreement",
    "analysis",
    "bank",
    "cat",
    "ctt",
    "data",
    "dif",
    "errors",
    "factor",
    "fairness",
    "fit",
    "information",
    "instrument",
    "irt",
    "items",
    "linking",
    "norms",
    "reliability",
    "scoring",
    "simulate",
    "storage",
    "sumscore",
    "validation",
}
_ATTRIBUTES = {
    "Instrument": "psychometrics.instrument",
    "load_responses": "psychometrics.data",
    "ResponseError": "psychometrics.errors",
    "InstrumentError": "psychometrics.errors",
    "ConvergenceWarning": "psychometrics.errors",
}

__all__ = sorted(_SUBMODULES | set(_ATTRIBUTES)) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from psychometrics.data import load_responses
    from psychometrics.errors import ConvergenceWarning, InstrumentError, ResponseError
    from psychometrics.instrument import Instrument


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"psychometrics.{name}")
    if name in _ATTRIBUTES:
        return getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'psychometrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
