r"""Sympson-Hetter exposure control parameters, set by iterated simulation.

Under Sympson-Hetter control an item selected for an examinee is given with probability
:math:`K_j` and otherwise set aside for the rest of that examinee's test. The exposure rate is
then :math:`P(A_j) = P(S_j) K_j` with :math:`P(S_j)` the rate at which the item is selected. The
parameters are found by simulating the test on a sample of examinees and repeating

.. math:: K_j \leftarrow \begin{cases} r / P(S_j) & P(S_j) > r \\ 1 & \text{otherwise} \end{cases}

until the largest exposure rate is at most the target :math:`r` (plus ``tol``).

References
----------
.. [1] Sympson, J. B., & Hetter, R. D. (1985). Controlling item-exposure rates in computerized
       adaptive testing. *Proceedings of the 27th annual meeting of the Military Testing
       Association*, 973-977.
.. [2] Hetter, R. D., & Sympson, J. B. (1997). Item exposure control in CAT-ASVAB. In Sands,
       Waters & McBride (Eds.), *Computerized Adaptive Testing: From Inquiry to Operation*, 141-144.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.bank import ItemBank
from psychometrics.cat._options import build_design
from psychometrics.cat.simulation import _true_thetas, run_engine
from psychometrics.irt import Calibration

__all__ = ["SympsonHetter", "exposure_parameters"]


@dataclass(frozen=True)
class SympsonHetter:
    """Sympson-Hetter exposure control parameters; pass the object as ``exposure=``.

    Attributes
    ----------
    parameters : Series
        Item -> :math:`K_j`, the probability of giving the item when it is selected.
    target : float
        The exposure rate aimed at.
    max_exposure : tuple of float
        Largest exposure rate in the simulation of each iteration (with the parameters in
        force during it).
    n_iter : int
        Simulations run.
    converged : bool
        Whether the last simulation kept every exposure rate within ``target + tol``.
    """

    parameters: pd.Series
    target: float
    max_exposure: tuple[float, ...]
    n_iter: int
    converged: bool

    def summary(self) -> str:
        limited = int((self.parameters < 1).sum())
        return (f"Sympson-Hetter parameters, target {self.target:g}: {limited} of {self.parameters.size} items "
                f"limited; largest exposure {self.max_exposure[-1]:.3f} after {self.n_iter} simulation(s)"
                f"{'' if self.converged else ' (NOT converged)'}")

    def to_frame(self) -> pd.DataFrame:
        """One row per item: its Sympson-Hetter parameter :math:`K_j`."""
        return self.parameters.rename("k").to_frame()

    def __repr__(self) -> str:
        return (f"SympsonHetter(items={self.parameters.size}, target={self.target:g}, "
                f"max_exposure={self.max_exposure[-1]:.4g}, n_iter={self.n_iter}, converged={self.converged})")


def exposure_parameters(bank: ItemBank | Calibration, thetas: Any, *, target: float = 0.25,
                        seed: int | None = None, max_iter: int = 30, tol: float | None = None,
                        **session_options: Any) -> SympsonHetter:
    r"""Sympson-Hetter parameters that hold every item's exposure rate at ``target``.

    Parameters
    ----------
    bank : ItemBank or Calibration
    thetas : array-like
        Theta values of the simulated examinees (a sample of the population tested, e.g.
        ``numpy.random.default_rng(1).standard_normal(2000)``).
    target : float
        Largest exposure rate allowed, in (0, 1].
    seed : int, optional
        Seed of the simulations.
    max_iter : int
        Simulations at most.
    tol : float, optional
        Stop once the largest exposure rate is at most ``target + tol``; default the
        larger of 0.01 and two binomial standard errors of a rate at the target,
        :math:`2\sqrt{r(1 - r)/N}`: the largest of many simulated rates exceeds its
        expectation by about that much, so a smaller tolerance chases noise.
    **session_options
        The other settings of the test (``selection``, ``content``, ``stop``, ...), as for
        :class:`~psychometrics.cat.Session`; the parameters only hold for the design they were
        computed for.

    Returns
    -------
    SympsonHetter
        Its ``parameters`` go to ``exposure=``; :func:`simulate` with them on a fresh sample
        shows the exposure rates reached.
    """
    if "exposure" in session_options:
        raise ValueError("exposure_parameters sets the exposure control itself; leave out exposure=")
    target = float(target)
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be an exposure rate in (0, 1], got {target!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    truth = _true_thetas(thetas).to_numpy()
    if tol is None:
        tol = max(0.01, 2.0 * math.sqrt(target * (1.0 - target) / truth.size))
    probe = build_design(bank, **session_options)
    stop = probe.stop
    if target * probe.n_items < stop.max_items:
        raise ValueError(f"a target exposure of {target:g} needs at least {math.ceil(stop.max_items / target)} items "
                         f"for tests of {stop.max_items} items; the pool has {probe.n_items}")
    rng = np.random.default_rng(seed)
    k = np.ones(probe.n_items)
    history: list[float] = []
    converged = False
    for _ in range(int(max_iter)):
        design = build_design(bank, exposure={"sympson_hetter": pd.Series(k, index=probe.item_ids)},
                              **session_options)
        engine = run_engine(design, truth, rng)
        given = engine.items[engine.items >= 0]
        exposure = np.bincount(given, minlength=probe.n_items) / truth.size
        history.append(float(exposure.max()))
        if exposure.max() <= target + tol:
            converged = True
            break
        selected = engine.selected_count / truth.size
        k = np.where(selected > target, target / np.maximum(selected, 1e-12), 1.0)
    return SympsonHetter(parameters=pd.Series(k, index=pd.Index(probe.item_ids, name="item"), name="k"),
                         target=target, max_exposure=tuple(history), n_iter=len(history), converged=converged)
