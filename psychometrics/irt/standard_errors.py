r"""Standard errors: the observed information as the Jacobian of the Fisher-identity score
(Oakes, 1999), IRT-form standard errors by the delta method, and the labelled covariance.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.errors import ModelWarning
from psychometrics.irt.document import _frame
from psychometrics.irt.em import _Problem
from psychometrics.irt.layout import ParameterLayout


def _slot_bounds(problem: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """Admissible range of every slot of the estimate vector (latent variances above 0)."""
    lower = np.full(problem.size, -np.inf)
    upper = np.full(problem.size, np.inf)
    for b in problem.blocks:
        rows, cols = np.nonzero(b.free)
        lower[b.slot[rows, cols]] = b.lower[cols]
        upper[b.slot[rows, cols]] = b.upper[cols]
    for s, (_, kind) in enumerate(problem.latent_slots):
        if kind == "variance":
            lower[problem.n_item_slots + s] = 0.0
    return lower, upper


def _describe(label: tuple[str, str, Any]) -> str:
    item, name, group = label
    where = "" if group == "*" else f" (group {group!r})"
    return f"latent {name}{where}" if item == "latent" else f"item {item!r} {name}{where}"


def _irt_slot_jacobian(problem: _Problem, block: Any, x: np.ndarray) -> np.ndarray:
    r""":math:`\partial\,\text{irt}_{np} / \partial x_s` for the items of one block, (n, P_irt, size).

    The chain rule through the slot map: a free parameter in slot ``s`` contributes its column of
    the model's exact :meth:`~psychometrics.items.base.ItemModel.irt_jacobian`; a parameter
    shared by several items (one slot) reaches each of them; fixed parameters reach none. A model
    that states no Jacobian gets forward differences of :meth:`to_irt` (step ``1e-6`` relative).
    """
    exact = block.model.irt_jacobian(block.params)
    base = block.model.to_irt(block.params)
    out = np.zeros(base.shape + (problem.size,))
    if exact is not None:
        rows, cols = np.nonzero(block.free)
        np.add.at(out, (rows, slice(None), block.slot[rows, cols]), exact[rows, :, cols])
        return out
    for s in range(problem.size):
        h = 1e-6 * max(1.0, abs(x[s]))
        moved = x.copy()
        moved[s] += h
        block.unpack(moved)
        out[..., s] = (block.model.to_irt(block.params) - base) / h
    block.unpack(x)
    return out


def _standard_errors(problem: _Problem, x: np.ndarray, layout: ParameterLayout, n_columns: int,
                     groups: list[Any], ref_columns: list[int], item_ids: list[str]):
    """Observed information as the finite-difference Jacobian of the Fisher-identity score.

    Parameters on a bound (a guessing parameter at 0) have no standard error: they are left out
    of the information matrix and reported as NaN with a warning. Returns the SE frames of the
    reference group's item parameters (slope-intercept, IRT), the SEs of the latent means and
    variances per group and the labelled covariance matrix.
    """
    size = problem.size
    lower, upper = _slot_bounds(problem)
    # one label per slot: a shared parameter is named after its first item
    labels = [entries[0] for entries in layout.slots]
    at_bound = (x <= lower + 1e-8) | (x >= upper - 1e-8)
    if at_bound.any():
        shown = ", ".join(_describe(labels[s]) for s in np.flatnonzero(at_bound)[:6])
        warnings.warn(f"standard errors are NaN for parameters on a bound of their range: {shown}"
                      f"{' ...' if at_bound.sum() > 6 else ''}", ModelWarning, stacklevel=5)
    keep = np.flatnonzero(~at_bound)
    centre = problem.score(x)
    jac = np.empty((size, keep.size))
    for col, s in enumerate(keep):
        h = 1e-4 * max(1.0, abs(x[s]))
        up, down = x.copy(), x.copy()
        if x[s] - h < lower[s]:
            up[s] += h
            jac[:, col] = (problem.score(up) - centre) / h
        elif x[s] + h > upper[s]:
            down[s] -= h
            jac[:, col] = (centre - problem.score(down)) / h
        else:
            up[s] += h
            down[s] -= h
            jac[:, col] = (problem.score(up) - problem.score(down)) / (2.0 * h)
    problem.unpack(x)
    sub = jac[keep]
    info = -0.5 * (sub + sub.T)
    cov = np.full((size, size), np.nan)
    try:
        np.linalg.cholesky(info)
        cov[np.ix_(keep, keep)] = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        warnings.warn("the information matrix is not positive definite; standard errors are NaN "
                      "(a parameter may be unidentified)", ModelWarning, stacklevel=5)
    var = np.diag(cov)
    si_rows: list[dict[str, float]] = [{} for _ in range(n_columns)]
    irt_rows: list[dict[str, float]] = [{} for _ in range(n_columns)]
    # delta method: Jacobian of the IRT form with respect to the packed slots
    djac = [_irt_slot_jacobian(problem, b, x) for b in problem.blocks]
    for bi, b in enumerate(problem.blocks):
        names = b.model.parameter_names(b.k)
        irt_names = b.model.irt_parameter_names(b.k)
        d = djac[bi]                                                    # (n, pi, size)
        irt_var = np.einsum("nps,st,npt->np", d, np.nan_to_num(cov), d)
        # an IRT parameter built from a parameter without SE has none either
        unknown = np.einsum("nps,s->np", np.abs(d), np.isnan(var).astype(float)) > 0
        irt_var = np.where(unknown, np.nan, irt_var)
        for r, c in enumerate(b.positions):
            si_rows[c] = {nm: (float(np.sqrt(var[b.slot[r, ci]])) if b.free[r, ci] else math.nan)
                          for ci, nm in enumerate(names)}
            depends = np.abs(d[r]).sum(axis=1) > 0
            irt_rows[c] = {nm: (float(np.sqrt(max(irt_var[r, ci], 0.0)))
                                if depends[ci] and not np.isnan(irt_var[r, ci]) else math.nan)
                           for ci, nm in enumerate(irt_names)}
    n_groups = len(groups)
    mean_se = np.full(n_groups, np.nan)
    var_se = np.full(n_groups, np.nan)
    for s, (g, kind) in enumerate(problem.latent_slots):
        value = float(np.sqrt(var[problem.n_item_slots + s]))
        (mean_se if kind == "mean" else var_se)[g] = value
    index = pd.MultiIndex.from_tuples(labels, names=["item", "parameter", "group"])
    covariance = pd.DataFrame(cov, index=index, columns=index)
    ref_si = [si_rows[c] for c in ref_columns]
    ref_irt = [irt_rows[c] for c in ref_columns]
    return _frame(item_ids, ref_si), _frame(item_ids, ref_irt), mean_se, var_se, covariance
