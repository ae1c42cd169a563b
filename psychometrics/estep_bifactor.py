r"""The E-step of bifactor and two-tier models by dimension reduction, as a compiled kernel.

The companion of :mod:`psychometrics.estep` for general factors and S specific factors, each
item loading on (some of) the general factors and at most one specific factor (items of set
s). The general factors are integrated on a grid of :math:`Q_g` nodes (one dimension for a
bifactor model, the tensor product of G dimensions for a two-tier model), each specific factor
on :math:`Q_s` nodes, with prior weights :math:`w_g` (general) and :math:`v_{sq}` (specific s).
With :math:`L_{isgq} = \prod_{j \in s} P_j(x_{ij}\mid g, q)`:

.. math::
    m_{isg} = \sum_q v_{sq} L_{isgq}, \quad
    L_i = \sum_g w_g \prod_s m_{isg},

    \pi_{isgq} = \frac{v_{sq} L_{isgq}}{m_{isg}}\,\frac{w_g \prod_s m_{isg}}{L_i}, \qquad
    \bar r_{j(gq)k} = \sum_i f_i\,\pi_{i s_j g q}\,[x_{ij} = k]

(Gibbons & Hedeker, 1992; Cai, 2010; Cai, Yang & Hansen, 2011): the posterior of the pair
(general, specific) that an item's parameters need, at the cost of S (G+1)-dimensional
integrals per person.

How it is computed. The likelihoods :math:`L_{isgq}` are products of *probabilities*, not sums
of log-probabilities: each table row (item, category) is stored as :math:`P / \max_{gq} P` with
its log maximum kept aside, so a person costs one multiplication per answered item and node and
no exponential at all (the former log-domain kernel spent most of its time in one ``exp`` per
person, set and node). Only the S x :math:`Q_g` set marginals go through logarithms, so the
product over sets cannot underflow. A set whose product has underflowed everywhere (a pattern so
unlikely that every node's likelihood is below 1e-250 of its rows' maxima) is recomputed for
that person in the log domain with its own scale. The kernel is compiled serial and runs blocks
of persons on the thread pool of :mod:`psychometrics._compiled`, one private accumulator each,
and returns plain sums over persons.

References
----------
.. [1] Gibbons, R. D. & Hedeker, D. R. (1992). Full-information item bi-factor analysis.
       *Psychometrika*, 57, 423-436.
.. [2] Cai, L. (2010). A two-tier full-information item factor analysis model with applications.
       *Psychometrika*, 75, 581-612.
.. [3] Cai, L., Yang, J. S. & Hansen, M. (2011). Generalized full-information item bifactor
       analysis. *Psychological Methods*, 16, 221-248.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from psychometrics._compiled import block_bounds, run_blocks
from psychometrics.estep import SERIAL_BELOW, _codes, _log_prob_matrix, _n_parts

__all__ = ["BifactorEStep", "bifactor_estep", "BifactorMoments", "bifactor_moments"]

#: A set's largest node likelihood (relative to its rows' maxima) below which the product of
#: probabilities is recomputed in the log domain for that person.
_UNDERFLOW = 1e-250


class BifactorEStep(NamedTuple):
    """Plain sums over the persons of a chunk.

    counts : ndarray (items, Q_g*Q_s, K)
        Expected number of responses in category k at node (g, q) of the item's set.
    loglik : float
        Marginal log-likelihood.
    node_counts : ndarray (Q_g*Q_s,)
        Posterior mass of the first set's (general, specific) grid (the unidimensional
        E-step's ``node_counts``: its sum is the number of persons).
    n_persons : float
        Number of persons (sum of frequency weights).
    set_node_counts : ndarray (S, Q_g, Q_s)
        Posterior mass of every set's grid; summed over q it is the general factors' posterior
        mass (the same for every set), summed over g the specific factor's.
    """

    counts: np.ndarray
    loglik: float
    node_counts: np.ndarray
    n_persons: float
    set_node_counts: np.ndarray


@numba.njit(cache=True, nogil=True, inline="always")
def _set_likelihoods(i, codes, pmat, rowlog, lmat, item_set, n_sets, ws, n_categories, lik, msum,
                     scale):  # pragma: no cover - compiled
    """Person i's likelihood of each set's items times its specific prior at every (general,
    specific) node, ``lik`` (S, Q_g*Q_s), scaled per item row by ``rowlog`` (a set whose sums
    underflow is recomputed in logs, scaled by ``exp(scale[s])``), and its sums over the
    specific nodes ``msum`` (S, Q_g); returns the log of the row scales taken out."""
    n_items = codes.shape[1]
    g_n = msum.shape[1]
    q_n = ws.shape[1]
    for s in range(n_sets):
        for g in range(g_n):
            base = g * q_n
            for q in range(q_n):
                lik[s, base + q] = ws[s, q]
    offset = 0.0
    for j in range(n_items):
        c = codes[i, j]
        if c >= 0:
            r = j * n_categories + c
            s = item_set[j]
            offset += rowlog[r]
            row = lik[s]
            prow = pmat[r]
            for t in range(g_n * q_n):
                row[t] *= prow[t]
    for s in range(n_sets):
        top = 0.0
        for g in range(g_n):
            base = g * q_n
            acc = 0.0
            for q in range(q_n):
                acc += lik[s, base + q]
            msum[s, g] = acc
            if acc > top:
                top = acc
        scale[s] = 0.0
        if top < _UNDERFLOW:
            # recompute this set in logs, scaled by its largest node log-likelihood
            for g in range(g_n):
                for q in range(q_n):
                    lik[s, g * q_n + q] = 0.0
            for j in range(n_items):
                c = codes[i, j]
                if c >= 0 and item_set[j] == s:
                    r = j * n_categories + c
                    for t in range(g_n * q_n):
                        lik[s, t] += lmat[r, t] - rowlog[r]
            big = -np.inf
            for t in range(g_n * q_n):
                if lik[s, t] > big:
                    big = lik[s, t]
            for g in range(g_n):
                base = g * q_n
                acc = 0.0
                for q in range(q_n):
                    e = ws[s, q] * np.exp(lik[s, base + q] - big)
                    lik[s, base + q] = e
                    acc += e
                msum[s, g] = acc
            scale[s] = big
    return offset


@numba.njit(cache=True, nogil=True, inline="always")
def _general_posterior(log_wg, msum, scale, total):  # pragma: no cover - compiled
    """The general nodes' posterior, unnormalized and scaled by its top, into ``total`` (Q_g);
    returns (top, sum): the log marginal likelihood is ``top + log(sum)`` plus the row scales."""
    n_sets, g_n = msum.shape
    top = -np.inf
    for g in range(g_n):
        t = log_wg[g]
        for s in range(n_sets):
            t += np.log(msum[s, g]) + scale[s]
        total[g] = t
        if t > top:
            top = t
    acc = 0.0
    for g in range(g_n):
        total[g] = np.exp(total[g] - top)
        acc += total[g]
    return top, acc


@numba.njit(cache=True, nogil=True)
def _person(i, codes, pmat, rowlog, lmat, item_set, n_sets, wg, ws, log_wg, weights, weighted, n_categories,
            lik, msum, scale, total, counts, nodes):  # pragma: no cover - compiled
    n_items = codes.shape[1]
    g_n = wg.shape[0]
    q_n = ws.shape[1]
    offset = _set_likelihoods(i, codes, pmat, rowlog, lmat, item_set, n_sets, ws, n_categories, lik, msum, scale)
    top, acc = _general_posterior(log_wg, msum, scale, total)
    log_l = top + np.log(acc) + offset
    w = weights[i] if weighted else 1.0
    # lik becomes the weighted posterior of (g, q) for each set
    for s in range(n_sets):
        for g in range(g_n):
            m = msum[s, g]
            f = w * total[g] / (acc * m) if m > 0.0 else 0.0
            base = g * q_n
            for q in range(q_n):
                lik[s, base + q] *= f
                nodes[s, base + q] += lik[s, base + q]
    for j in range(n_items):
        c = codes[i, j]
        if c >= 0:
            r = j * n_categories + c
            row = lik[item_set[j]]
            crow = counts[r]
            for t in range(g_n * q_n):
                crow[t] += row[t]
    return w * log_l


@numba.njit(cache=True, nogil=True)
def _kernel(codes, pmat, rowlog, lmat, item_set, n_sets, wg, ws, log_wg, weights, n_categories):  # pragma: no cover
    n_rows, q2 = pmat.shape
    counts = np.zeros((n_rows, q2))
    nodes = np.zeros((n_sets, q2))
    loglik = 0.0
    weighted = weights.shape[0] > 0
    lik = np.empty((n_sets, q2))
    msum = np.empty((n_sets, wg.shape[0]))
    scale = np.empty(n_sets)
    total = np.empty(wg.shape[0])
    for i in range(codes.shape[0]):
        loglik += _person(i, codes, pmat, rowlog, lmat, item_set, n_sets, wg, ws, log_wg, weights, weighted,
                          n_categories, lik, msum, scale, total, counts, nodes)
    return counts, loglik, nodes


def bifactor_estep(encoded: np.ndarray, log_probs: np.ndarray, item_set: np.ndarray, log_wg: np.ndarray,
                   log_ws: np.ndarray | None = None, weights: np.ndarray | None = None) -> BifactorEStep:
    """Expected counts of a bifactor or two-tier model by dimension reduction (module docstring).

    Parameters
    ----------
    encoded : ndarray of int (persons, items)
        Category indices, -1 for missing.
    log_probs : ndarray (items, Q_g*Q_s, K)
        Log category probabilities of every item on the (general, its specific factor) grid,
        general nodes slowest (:func:`psychometrics.quadrature.product_nodes` order).
    item_set : ndarray of int (items,)
        Specific set 0..S-1 of every item (items on no specific factor form a set too).
    log_wg : ndarray (Q_g,)
        Normalized log prior weights of the general factors' nodes.
    log_ws : ndarray (Q_s,) or (S, Q_s), optional
        Normalized log prior weights of each set's specific nodes (one row for all sets);
        default ``log_wg`` (a bifactor model with standard normal factors).
    weights : ndarray (persons,), optional
        Frequency weights.

    Returns
    -------
    BifactorEStep
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    n_items, q2, n_cat = log_probs.shape
    log_wg = np.ascontiguousarray(log_wg, dtype=np.float64).reshape(-1)
    codes = _codes(encoded, log_probs)
    item_set = np.ascontiguousarray(item_set, dtype=np.int64)
    if item_set.shape != (n_items,) or (item_set < 0).any():
        raise ValueError("item_set must give a set index >= 0 for every item")
    n_sets = int(item_set.max()) + 1 if n_items else 1
    log_ws = log_wg if log_ws is None else np.asarray(log_ws, dtype=np.float64)
    log_ws = np.ascontiguousarray(np.broadcast_to(np.atleast_2d(log_ws), (n_sets, np.atleast_2d(log_ws).shape[1])))
    if log_wg.shape[0] * log_ws.shape[1] != q2:
        raise ValueError(f"log_probs has {q2} nodes, expected {log_wg.shape[0]} general x {log_ws.shape[1]} "
                         "specific nodes")
    if weights is None:
        w = np.empty(0)
        n_total = float(codes.shape[0])
    else:
        w = np.ascontiguousarray(weights, dtype=np.float64)
        n_total = float(w.sum())
    lmat = _log_prob_matrix(log_probs)
    rowlog = lmat.max(axis=1)
    pmat = np.exp(lmat - rowlog[:, None])
    wg, ws = np.exp(log_wg), np.exp(log_ws)
    args = (pmat, rowlog, lmat, item_set, n_sets, wg, ws, log_wg)
    if codes.shape[0] * n_items * q2 < SERIAL_BELOW * 61:
        counts, loglik, nodes = _kernel(codes, *args, w, n_cat)
    else:
        weighted = w.shape[0] > 0
        blocks = [(codes[start:stop], *args, w[start:stop] if weighted else w, n_cat)
                  for start, stop in block_bounds(codes.shape[0], _n_parts(codes.shape[0]))]
        parts = run_blocks(_kernel, blocks)
        counts, nodes = parts[0][0], parts[0][2]
        for part in parts[1:]:
            counts += part[0]
            nodes += part[2]
        loglik = sum(part[1] for part in parts)
    counts = counts.reshape(n_items, n_cat, q2).transpose(0, 2, 1)
    return BifactorEStep(np.ascontiguousarray(counts), float(loglik), nodes[0].copy(), n_total,
                         nodes.reshape(n_sets, log_wg.shape[0], log_ws.shape[1]))


@numba.njit(cache=True, nogil=True)
def _moments_kernel(codes, pmat, rowlog, lmat, item_set, n_sets, wg, ws, log_wg, n_categories,
                    general, specific):  # pragma: no cover - compiled
    n = codes.shape[0]
    g_n, g_dims = general.shape
    q_n = ws.shape[1]
    lik = np.empty((n_sets, g_n * q_n))
    msum = np.empty((n_sets, g_n))
    m1 = np.empty((n_sets, g_n))
    m2 = np.empty((n_sets, g_n))
    scale = np.empty(n_sets)
    total = np.empty(g_n)
    general_moments = np.zeros((n, 2, g_dims))
    set_moments = np.zeros((n, 2, n_sets))
    loglik = np.empty(n)
    for i in range(n):
        loglik[i] = _posterior(i, codes, pmat, rowlog, lmat, item_set, n_sets, wg, ws, log_wg, n_categories,
                               specific, lik, msum, m1, m2, scale, total)
        for g in range(g_n):
            p = total[g]
            for d in range(g_dims):
                x = general[g, d]
                general_moments[i, 0, d] += p * x
                general_moments[i, 1, d] += p * x * x
        for s in range(n_sets):
            first = 0.0
            second = 0.0
            for g in range(g_n):
                m = msum[s, g]
                if m > 0.0 and total[g] > 0.0:
                    first += total[g] * m1[s, g] / m
                    second += total[g] * m2[s, g] / m
            set_moments[i, 0, s] = first
            set_moments[i, 1, s] = second
    return general_moments, set_moments, loglik


@numba.njit(cache=True, nogil=True)
def _posterior(i, codes, pmat, rowlog, lmat, item_set, n_sets, wg, ws, log_wg, n_categories, specific,
               lik, msum, m1, m2, scale, total):  # pragma: no cover - compiled
    """Person i's set likelihoods ``lik`` (S, Q_g*Q_s, scaled), their sums over the specific
    nodes ``msum`` with the first and second moments ``m1``, ``m2`` (unnormalized, (S, Q_g))
    and the general posterior ``total`` (normalized); returns log L_i."""
    g_n = wg.shape[0]
    q_n = ws.shape[1]
    offset = _set_likelihoods(i, codes, pmat, rowlog, lmat, item_set, n_sets, ws, n_categories, lik, msum, scale)
    for s in range(n_sets):
        for g in range(g_n):
            base = g * q_n
            a1 = 0.0
            a2 = 0.0
            for q in range(q_n):
                v = lik[s, base + q]
                x = specific[s, q]
                a1 += v * x
                a2 += v * x * x
            m1[s, g] = a1
            m2[s, g] = a2
    top, acc = _general_posterior(log_wg, msum, scale, total)
    for g in range(g_n):
        total[g] /= acc
    return top + np.log(acc) + offset


class BifactorMoments(NamedTuple):
    """Per-person posterior moments of a bifactor or two-tier model.

    general_mean, general_second : ndarray (persons, G)
        Posterior means and raw second moments of the general factors.
    set_mean, set_second : ndarray (persons, S)
        Posterior means and raw second moments of each set's specific factor (meaningless for
        a set of items on general factors only).
    loglik : ndarray (persons,)
        Marginal log-likelihood of each person.
    """

    general_mean: np.ndarray
    general_second: np.ndarray
    set_mean: np.ndarray
    set_second: np.ndarray
    loglik: np.ndarray


def bifactor_moments(encoded: np.ndarray, log_probs: np.ndarray, item_set: np.ndarray, log_wg: np.ndarray,
                     log_ws: np.ndarray, general_nodes: np.ndarray, specific_nodes: np.ndarray) -> BifactorMoments:
    r"""Posterior means and second moments of every person (scoring) by dimension reduction.

    The quantities of :func:`bifactor_estep` per person instead of summed: with
    :math:`\pi_{ig} \propto w_g\prod_s m_{isg}` the general posterior,
    :math:`E[\boldsymbol\theta_0] = \sum_g \pi_{ig}\boldsymbol\theta_{0g}` and, for specific
    factor s, :math:`E[\xi_s] = \sum_g \pi_{ig} \sum_q \xi_{sq} v_{sq} L_{isgq} / m_{isg}`
    (its conditional mean given the general node, averaged over the general posterior).

    Parameters
    ----------
    encoded, log_probs, item_set, log_wg
        As in :func:`bifactor_estep`.
    log_ws : ndarray (S, Q_s)
        Normalized log prior weights of each set's specific nodes.
    general_nodes : ndarray (Q_g, G)
        The general factors' node coordinates.
    specific_nodes : ndarray (S, Q_s)
        Each set's specific node values.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    n_items, q2, n_cat = log_probs.shape
    log_wg = np.ascontiguousarray(log_wg, dtype=np.float64).reshape(-1)
    codes = _codes(encoded, log_probs)
    item_set = np.ascontiguousarray(item_set, dtype=np.int64)
    n_sets = int(item_set.max()) + 1 if n_items else 1
    log_ws = np.ascontiguousarray(log_ws, dtype=np.float64).reshape(n_sets, -1)
    general = np.ascontiguousarray(general_nodes, dtype=np.float64).reshape(log_wg.shape[0], -1)
    specific = np.ascontiguousarray(specific_nodes, dtype=np.float64).reshape(n_sets, -1)
    if log_wg.shape[0] * log_ws.shape[1] != q2 or specific.shape != log_ws.shape:
        raise ValueError(f"log_probs has {q2} nodes, expected {log_wg.shape[0]} general x {log_ws.shape[1]} "
                         "specific nodes")
    lmat = _log_prob_matrix(log_probs)
    rowlog = lmat.max(axis=1)
    pmat = np.exp(lmat - rowlog[:, None])
    args = (pmat, rowlog, lmat, item_set, n_sets, np.exp(log_wg), np.exp(log_ws), log_wg, n_cat, general, specific)
    if codes.shape[0] * n_items * q2 < SERIAL_BELOW * 61:
        parts = [_moments_kernel(codes, *args)]
    else:
        parts = run_blocks(_moments_kernel, [(codes[start:stop], *args) for start, stop in
                                             block_bounds(codes.shape[0], _n_parts(codes.shape[0]))])
    general_moments = np.concatenate([p[0] for p in parts])
    set_moments = np.concatenate([p[1] for p in parts])
    return BifactorMoments(general_moments[:, 0], general_moments[:, 1], set_moments[:, 0], set_moments[:, 1],
                           np.concatenate([p[2] for p in parts]))
