"""Computerized adaptive testing: sessions driven item by item, and simulation of a design.

::

    from psychometrics import cat

    session = cat.Session(bank, selection="mfi", stop={"se": 0.3, "max_items": 30}, seed=7)
    item = session.next_item()
    session.answer(item, 1)
    session.theta, session.se, session.done

    result = cat.simulate(bank, thetas, stop={"se": 0.3, "max_items": 30}, seed=1)
    print(result.summary())

- :class:`Session` -- one examinee: ``next_item``, ``answer``, ``theta``, ``se``, ``done``,
  ``history``; ``start``/``submit``/``status`` return plain JSON values for a service;
  ``to_json``/``from_json`` store and resume it.
- :func:`simulate` -- thousands of examinees at once (one loop over test positions, array
  arithmetic across examinees) -> :class:`SimulationResult` with bias, RMSE, conditional
  statistics, exposure, overlap and content proportions.
- :func:`exposure_parameters` -- Sympson-Hetter exposure control by iterated simulation.

Selection rules: ``mfi``, ``kl``, ``mpwi``, ``mepv``, ``progressive``, ``random`` and the
``shadow`` test (:func:`scipy.optimize.milp`). Content balancing by Kingsbury-Zara or exactly
by the shadow test; enemy items; stopping by SE, length, or pass/fail classification (CI or
SPRT).
"""

from __future__ import annotations

from psychometrics.cat._options import SCORING_METHODS, SELECTION_RULES, StopRule
from psychometrics.cat.exposure import SympsonHetter, exposure_parameters
from psychometrics.cat.session import Session
from psychometrics.cat.simulation import THETA_BANDS, SimulationResult, simulate

__all__ = ["Session", "simulate", "SimulationResult", "exposure_parameters", "SympsonHetter", "StopRule",
           "SELECTION_RULES", "SCORING_METHODS", "THETA_BANDS"]
