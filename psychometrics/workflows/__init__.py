"""Workflows: many verbs run over an instrument's responses, turned into findings.

- :mod:`psychometrics.workflows.analysis`: classical item analysis and reliability per scale
  (:func:`~psychometrics.workflows.analysis.analyze_instrument`);
- :mod:`psychometrics.workflows.validation`: the validation study of an instrument
  (:func:`~psychometrics.workflows.validation.validate`, ``factor_structure``) whose findings the
  HTML report and the CLI show.

The former module paths ``psychometrics.validation`` and ``psychometrics.analysis`` still import
these modules.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {"analysis", "validation"}

__all__ = sorted(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"psychometrics.workflows.{name}")
    raise AttributeError(f"module 'psychometrics.workflows' has no attribute {name!r}")
