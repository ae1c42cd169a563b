r"""The E-step of bifactor models by dimension reduction, as a compiled kernel.

The companion of :mod:`psychometrics.estep` for a general factor and S specific factors, each
item loading on the general factor and at most one specific factor (items of set s). With
:math:`G` nodes per dimension and :math:`\ell_{isgq} = \sum_{j \in s}\log P_j(x_{ij}\mid g, q)`:

.. math::
    m_{isg} = \log\sum_q w_q e^{\ell_{isgq}}, \quad
    t_{ig} = \log w_g + \sum_s m_{isg}, \quad
    \log L_i = \log\sum_g e^{t_{ig}},

    \pi_{isgq} = \exp(\log w_q + \ell_{isgq} - m_{isg} + t_{ig} - \log L_i), \qquad
    \bar r_{j(gq)k} = \sum_i f_i\,\pi_{i s_j g q}\,[x_{ij} = k]

(Gibbons & Hedeker, 1992; Cai, Yang & Hansen, 2011): the posterior of the pair (general,
specific) that an item's parameters need, at the cost of S two-dimensional integrals per
person. As in :mod:`psychometrics.estep` the kernel never forms the one-hot matrix, runs the
persons of a chunk on all cores with private accumulators, and returns plain sums over persons.

References
----------
.. [1] Gibbons, R. D. & Hedeker, D. R. (1992). Full-information item bi-factor analysis.
       *Psychometrika*, 57, 423-436.
.. [2] Cai, L., Yang, J. S. & Hansen, M. (2011). Generalized full-information item bifactor
       analysis. *Psychological Methods*, 16, 221-248.
"""

from __future__ import annotations

import numba
import numpy as np

from psychometrics.estep import SERIAL_BELOW, EStep, _codes, _log_prob_matrix, _n_parts

__all__ = ["bifactor_estep"]


@numba.njit(cache=True, nogil=True)
def _person(i, codes, lmat, item_set, n_sets, log_w1, weights, weighted, n_categories,
            ll, marg, tops, total, counts, nodes):  # pragma: no cover - compiled
    n_items = codes.shape[1]
    g_n = log_w1.shape[0]
    for s in range(n_sets):
        for g in range(g_n):
            for q in range(g_n):
                ll[s, g, q] = log_w1[q]
    for j in range(n_items):
        c = codes[i, j]
        if c >= 0:
            r = j * n_categories + c
            s = item_set[j]
            for g in range(g_n):
                base = g * g_n
                for q in range(g_n):
                    ll[s, g, q] += lmat[r, base + q]
    # ll becomes exp(ll - top) here, one exp per cell: the posterior below only rescales it
    for s in range(n_sets):
        for g in range(g_n):
            top = ll[s, g, 0]
            for q in range(1, g_n):
                if ll[s, g, q] > top:
                    top = ll[s, g, q]
            acc = 0.0
            for q in range(g_n):
                e = np.exp(ll[s, g, q] - top)
                ll[s, g, q] = e
                acc += e
            tops[s, g] = top
            marg[s, g] = top + np.log(acc)
    top = -np.inf
    for g in range(g_n):
        total[g] = log_w1[g]
        for s in range(n_sets):
            total[g] += marg[s, g]
        if total[g] > top:
            top = total[g]
    acc = 0.0
    for g in range(g_n):
        acc += np.exp(total[g] - top)
    log_l = top + np.log(acc)
    w = weights[i] if weighted else 1.0
    # ll becomes the weighted posterior of (g, q) for each set
    for s in range(n_sets):
        for g in range(g_n):
            scale = w * np.exp(tops[s, g] + total[g] - log_l - marg[s, g])
            for q in range(g_n):
                ll[s, g, q] *= scale
    for g in range(g_n):
        for q in range(g_n):
            nodes[g * g_n + q] += ll[0, g, q]
    for j in range(n_items):
        c = codes[i, j]
        if c >= 0:
            r = j * n_categories + c
            s = item_set[j]
            for g in range(g_n):
                base = g * g_n
                for q in range(g_n):
                    counts[r, base + q] += ll[s, g, q]
    return w * log_l


@numba.njit(parallel=True, cache=True, nogil=True)
def _kernel(codes, lmat, item_set, n_sets, log_w1, weights, n_categories, n_parts):  # pragma: no cover
    n = codes.shape[0]
    n_rows, q2 = lmat.shape
    g_n = log_w1.shape[0]
    counts = np.zeros((n_parts, n_rows, q2))
    nodes = np.zeros((n_parts, q2))
    loglik = np.zeros(n_parts)
    size = (n + n_parts - 1) // n_parts
    weighted = weights.shape[0] > 0
    for part in numba.prange(n_parts):
        ll = np.empty((n_sets, g_n, g_n))
        marg = np.empty((n_sets, g_n))
        tops = np.empty((n_sets, g_n))
        total = np.empty(g_n)
        stop = min(n, (part + 1) * size)
        for i in range(part * size, stop):
            loglik[part] += _person(i, codes, lmat, item_set, n_sets, log_w1, weights, weighted, n_categories,
                                    ll, marg, tops, total, counts[part], nodes[part])
    return counts.sum(axis=0), loglik.sum(), nodes.sum(axis=0)


@numba.njit(cache=True, nogil=True)
def _kernel_serial(codes, lmat, item_set, n_sets, log_w1, weights, n_categories):  # pragma: no cover
    n_rows, q2 = lmat.shape
    g_n = log_w1.shape[0]
    counts = np.zeros((n_rows, q2))
    nodes = np.zeros(q2)
    loglik = 0.0
    weighted = weights.shape[0] > 0
    ll = np.empty((n_sets, g_n, g_n))
    marg = np.empty((n_sets, g_n))
    tops = np.empty((n_sets, g_n))
    total = np.empty(g_n)
    for i in range(codes.shape[0]):
        loglik += _person(i, codes, lmat, item_set, n_sets, log_w1, weights, weighted, n_categories,
                          ll, marg, tops, total, counts, nodes)
    return counts, loglik, nodes


def bifactor_estep(encoded: np.ndarray, log_probs: np.ndarray, item_set: np.ndarray, log_w1: np.ndarray,
                   weights: np.ndarray | None = None) -> EStep:
    """Expected counts of a bifactor model by dimension reduction (module docstring).

    Parameters
    ----------
    encoded : ndarray of int (persons, items)
        Category indices, -1 for missing.
    log_probs : ndarray (items, G*G, K)
        Log category probabilities of every item on the (general, its specific factor) grid,
        general node slowest (:func:`psychometrics.quadrature.product_nodes` order).
    item_set : ndarray of int (items,)
        Specific set 0..S-1 of every item (items on the general factor only form a set too).
    log_w1 : ndarray (G,)
        Normalized log weights of the one-dimensional grid.
    weights : ndarray (persons,), optional
        Frequency weights.

    Returns
    -------
    EStep
        ``counts`` (items, G*G, K); ``node_counts`` the posterior mass of the first set's grid.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    n_items, q2, n_cat = log_probs.shape
    log_w1 = np.ascontiguousarray(log_w1, dtype=np.float64)
    if log_w1.shape[0] ** 2 != q2:
        raise ValueError(f"log_probs has {q2} nodes, expected {log_w1.shape[0]}**2")
    codes = _codes(encoded, log_probs)
    item_set = np.ascontiguousarray(item_set, dtype=np.int64)
    if item_set.shape != (n_items,) or (item_set < 0).any():
        raise ValueError("item_set must give a set index >= 0 for every item")
    n_sets = int(item_set.max()) + 1 if n_items else 1
    if weights is None:
        w = np.empty(0)
        n_total = float(codes.shape[0])
    else:
        w = np.ascontiguousarray(weights, dtype=np.float64)
        n_total = float(w.sum())
    lmat = _log_prob_matrix(log_probs)
    if codes.shape[0] * n_items * q2 < SERIAL_BELOW * 61:
        counts, loglik, nodes = _kernel_serial(codes, lmat, item_set, n_sets, log_w1, w, n_cat)
    else:
        counts, loglik, nodes = _kernel(codes, lmat, item_set, n_sets, log_w1, w, n_cat, _n_parts(codes.shape[0]))
    counts = counts.reshape(n_items, n_cat, q2).transpose(0, 2, 1)
    return EStep(np.ascontiguousarray(counts), float(loglik), nodes, n_total)
