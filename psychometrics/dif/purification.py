"""Item purification: iterative removal of flagged items from the matching score.

The first pass matches on all items. Every later pass matches on the items not flagged in the
pass before it (the studied item itself still enters its own score under ``matching="total"``),
until the flagged set repeats or the iteration limit is reached.

References
----------
.. [1] Holland, P. W., & Thayer, D. T. (1988). Differential item performance and the
       Mantel-Haenszel procedure. In H. Wainer & H. I. Braun (Eds.), Test Validity (pp. 129-145).
.. [2] Candell, G. L., & Drasgow, F. (1988). An iterative procedure for linking metrics and
       assessing item bias in item response theory. Applied Psychological Measurement, 12, 253-260.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from psychometrics._deprecation import renamed_arguments
from psychometrics.errors import ConvergenceWarning, DataWarning

__all__ = ["PurificationResult", "purify"]

T = TypeVar("T")


@dataclass(frozen=True)
class PurificationResult(Generic[T]):
    """Outcome of :func:`purify`: the last pass's result and the anchors it matched on."""

    result: T
    anchors: np.ndarray
    iterations: int
    converged: bool


@renamed_arguments(max_iterations="max_iter")
def purify(evaluate: Callable[[np.ndarray], tuple[T, np.ndarray]], n_items: int, *, enabled: bool = True,
           max_iter: int = 10, min_anchors: int = 1, label: str = "") -> PurificationResult[T]:
    """Run ``evaluate(anchors) -> (result, flagged)`` until the flagged items stop changing.

    Parameters
    ----------
    evaluate : callable
        Takes a boolean anchor mask (n_items,) and returns the analysis result and a boolean
        mask of flagged items.
    n_items : int
    enabled : bool
        False runs one pass matching on all items.
    max_iter : int
        Most passes after the first; a :class:`ConvergenceWarning` says when they ran out.
    min_anchors : int
        Stop (with a :class:`DataWarning`) rather than match on fewer anchor items.
    """
    anchors = np.ones(n_items, dtype=bool)
    result, flagged = evaluate(anchors)
    if not enabled:
        return PurificationResult(result, anchors, 1, True)
    seen = {anchors.tobytes()}
    for iteration in range(1, max_iter + 1):
        candidate = ~np.asarray(flagged, dtype=bool)
        if np.array_equal(candidate, anchors):
            return PurificationResult(result, anchors, iteration, True)
        if candidate.sum() < min_anchors:
            warnings.warn(f"purification{label} stopped: only {int(candidate.sum())} item(s) are not "
                          f"flagged, fewer than the {min_anchors} needed for a matching score; the "
                          "result matches on the previous anchor set", DataWarning, stacklevel=3)
            return PurificationResult(result, anchors, iteration, False)
        if candidate.tobytes() in seen:
            # The flagged sets cycle: further passes would only repeat them.
            warnings.warn(f"purification{label} cycles between anchor sets; the last pass is reported",
                          ConvergenceWarning, stacklevel=3)
            anchors = candidate
            result, flagged = evaluate(anchors)
            return PurificationResult(result, anchors, iteration + 1, False)
        seen.add(candidate.tobytes())
        anchors = candidate
        result, flagged = evaluate(anchors)
    converged = np.array_equal(~np.asarray(flagged, dtype=bool), anchors)
    if not converged:
        warnings.warn(f"purification{label} did not settle in {max_iter} iterations; the last pass "
                      "is reported", ConvergenceWarning, stacklevel=3)
    return PurificationResult(result, anchors, max_iter + 1, converged)
