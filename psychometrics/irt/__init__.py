"""Marginal maximum likelihood calibration of item response models (Bock-Aitkin EM).

The package reads as a pipeline (``docs/architecture.md``), one step per module:

====================  ===========================================================================
``prepare``           responses -> category codes and encoded matrix; priors, groups, fixed/freed
``mstep``             Newton M-step batched over items of one model (``_Block``); latent M-step
``em``                the EM map (``_Problem``), plain EM and SQUAREM
``standard_errors``   observed information (Oakes) and delta-method SEs
``result``            :class:`Calibration`, what later verbs need
``document``          the versioned JSON document of a calibration
``estimation``        :func:`calibrate`: setup -> run -> standard errors -> assemble
====================  ===========================================================================

The public verbs are :func:`calibrate` and the :class:`Calibration` it returns; ``irt.score``,
``irt.eap_sum_table``, ``irt.item_information`` ... are re-exported from
:mod:`psychometrics.scoring` and :mod:`psychometrics.information` on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from psychometrics.irt.document import SCHEMA_VERSION
from psychometrics.irt.estimation import calibrate
from psychometrics.irt.prepare import MIN_GROUP_SIZE
from psychometrics.irt.result import Calibration

__all__ = ["Calibration", "calibrate", "SCHEMA_VERSION", "MIN_GROUP_SIZE"]

_REEXPORTS = {
    "score": "psychometrics.scoring",
    "eap_sum_table": "psychometrics.scoring",
    "plausible_values": "psychometrics.scoring",
    "marginal_reliability": "psychometrics.scoring",
    "empirical_reliability": "psychometrics.scoring",
    "item_information": "psychometrics.information",
    "test_information": "psychometrics.information",
    "standard_error": "psychometrics.information",
}

# Internal names that lived in the former single module ``psychometrics/irt.py``; they stay
# importable from ``psychometrics.irt`` for code written against that layout.
_INTERNAL_MODULES = tuple(f"psychometrics.irt.{m}" for m in (
    "estimation", "result", "document", "prepare", "mstep", "em", "standard_errors"))


def __getattr__(name: str) -> Any:
    # scoring and information sit above this package; importing them lazily keeps the layers
    # one-way while ``irt.score(...)`` still works
    if name in _REEXPORTS:
        return getattr(importlib.import_module(_REEXPORTS[name]), name)
    for module_name in _INTERNAL_MODULES:
        module = importlib.import_module(module_name)
        if name in vars(module):
            return vars(module)[name]
    raise AttributeError(f"module 'psychometrics.irt' has no attribute {name!r}")
