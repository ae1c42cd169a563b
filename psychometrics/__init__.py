"""psychometrics: IRT, classical test theory, reliability and factor analysis.

The public API is a small set of verbs grouped by module::

    from psychometrics import Instrument, load_responses
    from psychometrics import ctt, reliability, irt, factor

Submodules are imported on first use so that ``import psychometrics`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SUBMODULES = {
    "agreement",
    "analysis",
    "bank",
    "ctt",
    "data",
    "dif",
    "errors",
    "factor",
    "fairness",
    "fit",
    "fit_indices",
    "groups",
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
    "workflows",
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


#: Modules that moved, old path -> new path. The old path imports the very same module object
#: (so ``monkeypatch`` and ``isinstance`` see one module); kept for one release.
_MOVED_MODULES = {
    "psychometrics.analysis": "psychometrics.workflows.analysis",
    "psychometrics.validation": "psychometrics.workflows.validation",
}


class _MovedModuleLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target
        self.spec: Any = None

    def create_module(self, spec: Any) -> Any:
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: Any) -> None:
        # the import system stamped the old name's spec on the module; give it its own back
        module.__spec__ = self.spec


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, _MovedModuleLoader(_MOVED_MODULES[fullname]))


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"psychometrics.{name}")
    if name in _ATTRIBUTES:
        if name == "load_responses":
            # registers the instrument-file reader that load_responses(instrument=path) uses
            importlib.import_module("psychometrics.instrument")
        return getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'psychometrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
