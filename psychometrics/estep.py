r"""The E-step of Bock-Aitkin EM.

A chunk of persons arrives *encoded*: an integer array (persons x items) of category indices
0..K-1 with -1 for a missing response. In matrix terms, its one-hot expansion ``X`` (persons x
items*K) times the matrix of log-probabilities ``L`` (items*K x Q) is every person's
log-likelihood at every node; adding the log prior weights and normalizing by log-sum-exp gives
the posterior over nodes; ``X^T`` times the posterior gives the expected counts. A missing
response is a row of zeros in ``X``, so it contributes nothing to either product: it is absent
from the likelihood, never imputed.

The products are computed by a compiled kernel (numba) that never forms ``X``. The items go
in tuples (:class:`PackedCodes`: pairs of five-category items, up to six two-category ones):
once per E-step, a table holds for each tuple the summed log-probabilities of every combination
of its items' categories. For each person the kernel adds one table row per tuple, takes the
log-sum-exp over nodes and adds the posterior back into the tuple rows of the counts it came
from, which are summed per item and category at the end. That is ``tuples x Q`` operations per
person instead of the ``items x K x Q`` of a dense product with the (mostly zero) one-hot
matrix (and half the ``items x Q`` of one row per item); nodes whose posterior is below
:data:`POSTERIOR_CUT` of the person's top are skipped. The kernel is compiled serial and runs
blocks of a chunk's persons on a pool of threads, one private accumulator per block
(:mod:`psychometrics._compiled`: a ``parallel=True`` kernel took three times as long to
compile). :func:`posterior_moments` (EAP scores) runs the same gather without the
(persons x nodes) array.

Everything :func:`estep` returns is a plain sum over persons, so chunks (threads, processes,
partitions of a cluster) combine with :func:`combine`.

Notes
-----
.. math::
    \ell_{iq} = \sum_j \log P_{j, x_{ij}}(\theta_q), \quad
    \pi_{iq} = \frac{w_q e^{\ell_{iq}}}{\sum_r w_r e^{\ell_{ir}}}, \quad
    \bar r_{jqk} = \sum_i f_i\, \pi_{iq} [x_{ij} = k], \quad
    \log L = \sum_i f_i \log \sum_q w_q e^{\ell_{iq}}

with frequency weights :math:`f_i` (1 unless patterns were collapsed).

References
----------
.. [1] Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item
       parameters: Application of an EM algorithm. *Psychometrika*, 46, 443-459.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numba
import numpy as np

from psychometrics._compiled import block_bounds, n_threads, run_blocks
from psychometrics._numeric import LOG_FLOOR

__all__ = ["EStep", "PackedCodes", "estep", "combine", "log_likelihood_matrix", "pack_codes", "posterior", "posterior_moments"]


class EStep(NamedTuple):
    """Plain sums over the persons of a chunk.

    counts : ndarray (n_items, Q, K)
        Expected number of responses in category k at node q.
    loglik : float
        Marginal log-likelihood of the chunk.
    node_counts : ndarray (Q,)
        Expected number of persons at each node (posterior mass); the latent mean and
        variance follow from it as weighted moments of the nodes.
    n_persons : float
        Number of persons (sum of frequency weights).
    """

    counts: np.ndarray
    loglik: float
    node_counts: np.ndarray
    n_persons: float


def combine(parts: Iterable[EStep]) -> EStep:
    """Sum E-step results of several chunks."""
    parts = list(parts)
    if not parts:
        raise ValueError("nothing to combine")
    return EStep(sum(p.counts for p in parts), float(sum(p.loglik for p in parts)),
                 sum(p.node_counts for p in parts), float(sum(p.n_persons for p in parts)))


def _log_prob_matrix(log_probs: np.ndarray) -> np.ndarray:
    """(items*K, Q) finite log-probabilities, row j*K + k."""
    n_items, q, k = log_probs.shape
    return np.ascontiguousarray(np.maximum(log_probs, LOG_FLOOR).transpose(0, 2, 1).reshape(n_items * k, q))


@numba.njit(cache=True, nogil=True, inline="always")
def _add_person_loglik(i, codes, lmat, n_categories, out):  # pragma: no cover - compiled
    """The person log-likelihood at the nodes: add the log-probabilities of person i's chosen
    categories to ``out`` (Q,); a missing response (-1) adds nothing. The E-step and scoring
    both compute it here."""
    n_items = codes.shape[1]
    q = lmat.shape[1]
    for j in range(n_items):
        c = codes[i, j]
        if c >= 0:
            r = j * n_categories + c
            for t in range(q):
                out[t] += lmat[r, t]


#: Nodes whose posterior weight is below ``exp(-POSTERIOR_CUT)`` (9e-14) of a person's largest
#: are left out of that person's exponentials and expected counts (they were half of an E-step's
#: time). A graded calibration of 10^5 x 50 gave the same log-likelihood to 1e-6 and item
#: parameters within 7e-13 of those with every node (a cut at 40, 4e-18, below rounding).
POSTERIOR_CUT = 30.0

#: Most rows of one table of item tuples (:class:`PackedCodes`): the tables of all tuples and a
#: thread's private expected counts per tuple row stay in the core's second-level cache.
MAX_TUPLE_ROWS = 64


@numba.njit(cache=True, nogil=True)
def _packed_estep_kernel(combo, tables, n_rows, log_prior, weights, cut):  # pragma: no cover - compiled
    """Sums over one block of persons: expected counts per tuple row, log-likelihood, node masses.

    ``combo[i, h]`` is the row of tuple table ``h`` that person ``i``'s responses pick: row
    ``h * n_rows + combo[i, h]`` of ``tables`` is the sum of those items' log-probabilities.
    """
    n, n_tuples = combo.shape
    q = tables.shape[1]
    counts = np.zeros(tables.shape)
    nodes = np.zeros(q)
    buf = np.empty(q)
    loglik = 0.0
    weighted = weights.shape[0] > 0
    for i in range(n):
        for t in range(q):
            buf[t] = log_prior[t]
        base = 0
        for h in range(n_tuples):
            r = base + combo[i, h]
            for t in range(q):
                buf[t] += tables[r, t]
            base += n_rows
        top = buf[0]
        for t in range(1, q):
            if buf[t] > top:
                top = buf[t]
        # the window of nodes within ``cut`` of the top, from the first such node to the last
        floor = top - cut
        lo = 0
        while lo < q - 1 and buf[lo] < floor:
            lo += 1
        hi = q
        while hi > lo + 1 and buf[hi - 1] < floor:
            hi -= 1
        total = 0.0
        for t in range(lo, hi):
            buf[t] = np.exp(buf[t] - top)
            total += buf[t]
        w = weights[i] if weighted else 1.0
        scale = w / total
        for t in range(lo, hi):
            buf[t] *= scale
            nodes[t] += buf[t]
        base = 0
        for h in range(n_tuples):
            r = base + combo[i, h]
            for t in range(lo, hi):
                counts[r, t] += buf[t]
            base += n_rows
        loglik += w * (top + np.log(total))
    return counts, loglik, nodes


@numba.njit(cache=True, nogil=True)
def _moments_kernel(codes, members, radix, tables, n_rows, log_prior, offset, offset2, cut):  # pragma: no cover
    """Each person's posterior mean and SD of ``offset`` over the nodes; the tuple rows are
    numbered from the codes on the fly (the digit ``radix - 1`` for a missing answer)."""
    n = codes.shape[0]
    n_tuples, size = members.shape
    q = tables.shape[1]
    mean = np.empty(n)
    sd = np.empty(n)
    buf = np.empty(q)
    for i in range(n):
        for t in range(q):
            buf[t] = 0.0
        base = 0
        for h in range(n_tuples):
            r = 0
            for m in range(size):
                j = members[h, m]
                d = 0
                if j >= 0:
                    c = codes[i, j]
                    d = c if c >= 0 else radix - 1
                r = r * radix + d
            r += base
            for t in range(q):
                buf[t] += tables[r, t]
            base += n_rows
        for t in range(q):
            buf[t] += log_prior[t]
        top = buf[0]
        for t in range(1, q):
            if buf[t] > top:
                top = buf[t]
        floor = top - cut
        lo = 0
        while lo < q - 1 and buf[lo] < floor:
            lo += 1
        hi = q
        while hi > lo + 1 and buf[hi - 1] < floor:
            hi -= 1
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for t in range(lo, hi):
            p = np.exp(buf[t] - top)
            s0 += p
            s1 += p * offset[t]
            s2 += p * offset2[t]
        m1 = s1 / s0
        mean[i] = m1
        sd[i] = np.sqrt(max(s2 / s0 - m1 * m1, 0.0))
    return mean, sd


@numba.njit(cache=True, nogil=True)
def _loglik_kernel(codes, lmat, n_categories):  # pragma: no cover - compiled
    n = codes.shape[0]
    out = np.zeros((n, lmat.shape[1]))
    for i in range(n):
        _add_person_loglik(i, codes, lmat, n_categories, out[i])
    return out


#: Below this many responses (persons x items) a chunk runs on one thread: starting and joining
#: the thread pool costs more than it saves there (and much more on a busy machine, where it
#: measured up to 10 times slower than one thread for 1000 persons x 10 items).
SERIAL_BELOW = 100_000

#: The log-likelihood matrix alone does less work per response than the E-step; there the
#: thread pool pays only from about this many responses (scoring's chunks stay below it).
LOGLIK_SERIAL_BELOW = 1_000_000


def _n_parts(n: int) -> int:
    # a few parts per thread balances the load; tiny chunks need only one
    return max(1, min(4 * n_threads(), n // 256 + 1))


class PackedCodes(NamedTuple):
    """Encoded responses packed once for many E-steps (:func:`pack_codes`).

    The items are taken in tuples of ``size`` (a pair for five categories, five for two):
    ``combo[i, h]`` numbers person ``i``'s answers to the items of tuple ``h`` in base
    ``radix`` (a missing answer is the digit ``radix - 1`` when the data have missing answers).
    An E-step first adds, for each tuple, the log-probabilities of every combination of its
    items' categories (``radix ** size`` rows, a few hundred kilobytes for all tuples); a person
    then needs one row per tuple instead of one per item, and adds the posterior back into one
    row of counts per tuple: ``size`` times fewer additions, the same sums in another order.

    codes : ndarray of int (persons, items)
        The checked codes (category indices, -1 for missing).
    combo : ndarray of uint8 (persons, tuples); int32 for items of more than 255 categories
    members : ndarray of int (tuples, size)
        Item of each place of each tuple; -1 fills the last tuple's empty places.
    radix : int
    n_categories : int
        Categories the codes were checked against (the last axis of the log-probabilities).
    top_code : ndarray of int (items,)
        Each item's highest code (-1 for an item nobody answered).
    """

    codes: np.ndarray
    combo: np.ndarray
    members: np.ndarray
    radix: int
    n_categories: int
    top_code: np.ndarray

    @property
    def n_persons(self) -> int:
        return int(self.combo.shape[0])


def _integer_codes(encoded: np.ndarray, n_items: int) -> np.ndarray:
    encoded = np.asarray(encoded)
    if encoded.ndim != 2 or encoded.shape[1] != n_items:
        raise ValueError(f"encoded responses have shape {encoded.shape}, expected (persons, {n_items})")
    if encoded.dtype.kind not in "iu":
        if encoded.size and (not np.all(np.isfinite(encoded)) or np.any(encoded != np.round(encoded))):
            raise ValueError("encoded responses must be integer category indices (-1 for missing)")
    if encoded.dtype not in (np.int8, np.int16, np.int32, np.int64):
        encoded = encoded.astype(np.int64)
    return np.ascontiguousarray(encoded)


def _n_valid(log_probs: np.ndarray) -> np.ndarray:
    # categories an item lacks have log-probability -inf at every node; an item whose every
    # category is -inf has parameters outside its model's domain (an extrapolation step the EM
    # rejects), not fewer categories
    n_cat = log_probs.shape[2]
    finite = np.isfinite(log_probs).any(axis=1)
    return np.where(finite.any(axis=1), finite.sum(axis=1), n_cat)


def _check_range(codes: np.ndarray, low: np.ndarray, high: np.ndarray, n_valid: np.ndarray) -> None:
    bad = np.flatnonzero((low < -1) | (high >= n_valid))
    if bad.size:
        j = int(bad[0])
        column = codes[:, j]
        row = int(np.flatnonzero((column < -1) | (column >= n_valid[j]))[0])
        raise ValueError(f"encoded responses, row {row}, item column {j}: code {int(column[row])} is not "
                         f"a category index of that item (0..{int(n_valid[j]) - 1}, -1 for missing)")


def pack_codes(encoded: np.ndarray, n_categories: int, max_rows: int = MAX_TUPLE_ROWS) -> PackedCodes:
    """Check encoded responses once and pack them for :func:`estep` (:class:`PackedCodes`).

    Parameters
    ----------
    encoded : ndarray of int (persons, items)
        Category indices 0..n_categories-1, -1 for missing.
    n_categories : int
        The most categories of an item (the last axis of the log-probabilities).
    max_rows : int
        Most rows of a tuple's table; 1 keeps every item on its own (for grids of many
        nodes, where the tables and counts of tuples would outgrow the cache).

    Raises
    ------
    ValueError
        When a code is not a category index (naming row, item column and code).

    Examples
    --------
    >>> packed = pack_codes(np.array([[0, 1, 1], [1, -1, 0]]), 2)
    >>> packed.radix, packed.members.shape
    (3, (1, 3))
    """
    n_categories = int(n_categories)
    codes = np.asarray(encoded)
    codes = _integer_codes(codes, codes.shape[1] if codes.ndim == 2 else -1)
    n, n_items = codes.shape
    if n and n_items:
        low, high = codes.min(axis=0), codes.max(axis=0)
        _check_range(codes, low, high, np.full(n_items, n_categories))
    else:
        low = high = np.full(n_items, -1)
    radix = max(2, n_categories + int(bool((low < 0).any())))
    members = _tuples(n_items, radix, max_rows)
    n_tuples, size = members.shape
    n_rows = radix ** size
    # one byte a tuple unless an item alone has more than 255 categories (sliders 0-1000)
    dtype = np.uint8 if n_rows <= 256 else np.int32
    combo = np.empty((n, n_tuples), dtype=dtype)
    chunk = 1 << 16
    for start in range(0, n, chunk):
        block = codes[start:start + chunk]
        acc = np.zeros((block.shape[0], n_tuples), dtype=np.int32)
        for m in range(size):
            cols = members[:, m]
            digit = np.zeros_like(acc)
            digit[:, cols >= 0] = block[:, cols[cols >= 0]]
            digit[digit < 0] = radix - 1
            acc *= radix
            acc += digit
        combo[start:start + chunk] = acc
    return PackedCodes(codes, combo, members, radix, n_categories, high.astype(np.int64))


def _tuple_tables(lmat: np.ndarray, packed: PackedCodes) -> np.ndarray:
    """Rows ``h * radix**size + r``: the log-probabilities of tuple h's categories numbered r
    added up (a missing answer and an empty place add 0)."""
    return _tables_of(lmat, packed.members, packed.radix, packed.n_categories)


def _tuples(n_items: int, radix: int, max_rows: int = MAX_TUPLE_ROWS) -> np.ndarray:
    """Items in tuples of as many as ``radix ** size <= max_rows`` allows (at least one),
    (tuples, size), -1 in the last tuple's empty places."""
    size = 1
    while radix ** (size + 1) <= max_rows:
        size += 1
    n_tuples = -(-n_items // size)
    members = np.full(n_tuples * size, -1, dtype=np.int64)
    members[:n_items] = np.arange(n_items)
    return members.reshape(n_tuples, size)


def _max_rows(n_nodes: int) -> int:
    # tuple tables and counts of grids of many nodes (multidimensional) would leave the cache
    return MAX_TUPLE_ROWS if n_nodes <= 128 else 1


def _tables_of(lmat: np.ndarray, members: np.ndarray, radix: int, k: int) -> np.ndarray:
    n_tuples, size = members.shape
    q = lmat.shape[1]
    n_items = lmat.shape[0] // k
    per_item = np.zeros((n_items + 1, radix, q))
    per_item[:n_items, :k] = lmat.reshape(n_items, k, q)
    members = np.where(members < 0, n_items, members)
    tables = np.zeros((n_tuples,) + (radix,) * size + (q,))
    for m in range(size):
        shape = [n_tuples] + [1] * size + [q]
        shape[1 + m] = radix
        tables += per_item[members[:, m]].reshape(shape)
    return tables.reshape(-1, q)


def _item_counts(tuple_counts: np.ndarray, packed: PackedCodes, n_items: int) -> np.ndarray:
    """Expected counts per tuple row -> per item and category, (items, Q, K)."""
    n_tuples, size = packed.members.shape
    radix, k = packed.radix, packed.n_categories
    q = tuple_counts.shape[1]
    full = tuple_counts.reshape((n_tuples,) + (radix,) * size + (q,))
    out = np.zeros((n_items + 1, radix, q))
    members = np.where(packed.members < 0, n_items, packed.members)
    for m in range(size):
        others = tuple(1 + a for a in range(size) if a != m)
        # every item sits in one place of one tuple; the empty places all go to the spare row
        out[members[:, m]] = full.sum(axis=others) if others else full
    return np.ascontiguousarray(out[:n_items, :k].transpose(0, 2, 1))


def _estep_blocks(packed: PackedCodes, tables: np.ndarray, log_prior: np.ndarray,
                  weights: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The serial kernel over blocks of persons on the thread pool; the sums add up."""
    combo = packed.combo
    n_rows = packed.radix ** packed.members.shape[1]
    weighted = weights.shape[0] > 0
    # the threshold was measured with 61 nodes; multidimensional grids have far more per response
    if combo.shape[0] * packed.codes.shape[1] * max(log_prior.shape[0], 61) < SERIAL_BELOW * 61:
        return _packed_estep_kernel(combo, tables, n_rows, log_prior, weights, POSTERIOR_CUT)
    blocks = [(combo[start:stop], tables, n_rows, log_prior, weights[start:stop] if weighted else weights,
               POSTERIOR_CUT)
              for start, stop in block_bounds(combo.shape[0], _n_parts(combo.shape[0]))]
    parts = run_blocks(_packed_estep_kernel, blocks)
    counts = parts[0][0]
    nodes = parts[0][2]
    for part in parts[1:]:
        counts += part[0]
        nodes += part[2]
    return counts, float(sum(part[1] for part in parts)), nodes


def _codes(encoded: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """The encoded responses as the compiled kernels need them, checked at this boundary: the
    kernels index the log-probabilities with the codes and would read or write out of bounds."""
    encoded = _integer_codes(encoded, log_probs.shape[0])
    if encoded.size:
        _check_range(encoded, encoded.min(axis=0), encoded.max(axis=0), _n_valid(log_probs))
    return encoded


def log_likelihood_matrix(encoded: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """Each person's log-likelihood at each node, (persons, Q); missing responses add 0.

    Parameters
    ----------
    encoded : ndarray of int (persons, items)
        Category indices, -1 for missing.
    log_probs : ndarray (items, Q, K)
        Log category probabilities at the nodes (``-inf`` for categories an item lacks).
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    return person_log_likelihood(_codes(encoded, log_probs), log_probs)


def person_log_likelihood(codes: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """:func:`log_likelihood_matrix` for codes already checked against these log-probabilities
    (contiguous integer codes from :meth:`Calibration.encode` or :func:`log_likelihood_matrix`);
    the compiled kernel indexes with them unchecked."""
    lmat = _log_prob_matrix(log_probs)
    n_cat = log_probs.shape[2]
    if codes.size < LOGLIK_SERIAL_BELOW:
        return _loglik_kernel(codes, lmat, n_cat)
    bounds = block_bounds(codes.shape[0], _n_parts(codes.shape[0]))
    return np.concatenate(run_blocks(_loglik_kernel, [(codes[start:stop], lmat, n_cat) for start, stop in bounds]))


def posterior(encoded: np.ndarray, log_probs: np.ndarray,
              log_prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior weights over nodes (persons, Q) and each person's marginal log-likelihood."""
    loglik = log_likelihood_matrix(encoded, log_probs) + np.asarray(log_prior, dtype=np.float64)[None, :]
    top = loglik.max(axis=1, keepdims=True)
    np.subtract(loglik, top, out=loglik)
    np.exp(loglik, out=loglik)
    total = loglik.sum(axis=1, keepdims=True)
    loglik /= total
    return loglik, (top + np.log(total))[:, 0]


def estep(encoded_chunk: np.ndarray | PackedCodes, log_probs: np.ndarray, log_prior: np.ndarray,
          weights: np.ndarray | None = None) -> EStep:
    """Expected counts, log-likelihood and node masses for one chunk of persons.

    Parameters
    ----------
    encoded_chunk : ndarray of int (persons, items) or PackedCodes
        Category indices 0..K-1, -1 for missing (see :meth:`Calibration.encode`), or the same
        packed once by :func:`pack_codes` for many E-steps.
    log_probs : ndarray (items, Q, K)
        Log category probabilities at the nodes; ``-inf`` for categories an item lacks.
    log_prior : ndarray (Q,)
        Log prior weights of the nodes (normalized).
    weights : ndarray (persons,), optional
        Frequency weights (pattern counts); 1 for every person when omitted.

    Raises
    ------
    ValueError
        When a code is not a category index of its item (naming row, item column and code).

    Returns
    -------
    EStep
        ``(counts (items, Q, K), loglik, node_counts (Q,), n_persons)``, all plain sums over
        persons, so results of separate chunks add up (:func:`combine`).

    Examples
    --------
    >>> log_probs = np.log(np.full((2, 3, 2), 0.5))
    >>> e = estep(np.array([[0, 1], [1, -1]]), log_probs, np.log(np.full(3, 1 / 3)))
    >>> float(e.counts.sum()), round(e.loglik, 6)
    (3.0, -2.079442)
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    n_items, q, n_cat = log_probs.shape
    if isinstance(encoded_chunk, PackedCodes):
        packed = encoded_chunk
        if packed.codes.shape[1] != n_items or packed.n_categories != n_cat:
            raise ValueError(f"packed responses are for {packed.codes.shape[1]} items with up to "
                             f"{packed.n_categories} categories, the log-probabilities for {n_items} and {n_cat}")
        if packed.n_persons:
            _check_range(packed.codes, np.full(n_items, -1), packed.top_code, _n_valid(log_probs))
    else:
        packed = pack_codes(_codes(encoded_chunk, log_probs), n_cat, _max_rows(q))
    n_persons = packed.n_persons
    log_prior = np.ascontiguousarray(log_prior, dtype=np.float64)
    if log_prior.shape != (q,):
        raise ValueError(f"log_prior has shape {log_prior.shape}, expected ({q},)")
    if weights is None:
        w = np.empty(0)
        n_total = float(n_persons)
    else:
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if w.shape != (n_persons,):
            raise ValueError(f"weights have shape {w.shape}, expected ({n_persons},)")
        n_total = float(w.sum())
    tables = _tuple_tables(_log_prob_matrix(log_probs), packed)
    counts, loglik, node_counts = _estep_blocks(packed, tables, log_prior, w)
    return EStep(_item_counts(counts, packed, n_items), float(loglik), node_counts, n_total)


#: Posterior moments leave out nodes below ``exp(-MOMENTS_CUT)`` (9e-27) of the top: their
#: share of a second moment about the prior mean (up to 36 prior variances away) stays below
#: 1e-24 relative.
MOMENTS_CUT = 60.0


def posterior_moments(codes: np.ndarray, log_probs: np.ndarray, log_prior: np.ndarray,
                      offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Each person's posterior mean and standard deviation of ``offset`` over the nodes.

    .. math::
        m_i = \frac{\sum_q \pi_{iq} o_q}{\sum_q \pi_{iq}}, \quad
        s_i = \sqrt{\max\Big(\frac{\sum_q \pi_{iq} o_q^2}{\sum_q \pi_{iq}} - m_i^2, 0\Big)}

    with :math:`\pi_{iq} = w_q e^{\ell_{iq}}` as in :func:`estep`. EAP scores are
    ``center + m`` with ``offset = nodes - center`` (moments about the prior mean, so the
    variance does not suffer from cancellation). No (persons x nodes) array is formed.

    Parameters
    ----------
    codes : ndarray of int (persons, items)
        Checked category indices (-1 for missing), as :func:`person_log_likelihood` takes them.
    log_probs : ndarray (items, Q, K)
    log_prior : ndarray (Q,)
    offset : ndarray (Q,)

    Returns
    -------
    mean, sd : ndarray (persons,)
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    n_items, q, k = log_probs.shape
    codes = np.ascontiguousarray(codes)
    radix = k + 1
    members = _tuples(n_items, radix, _max_rows(q))
    tables = _tables_of(_log_prob_matrix(log_probs), members, radix, k)
    n_rows = radix ** members.shape[1]
    offset = np.ascontiguousarray(offset, dtype=np.float64)
    args = (members, radix, tables, n_rows, np.ascontiguousarray(log_prior, dtype=np.float64), offset,
            offset * offset, MOMENTS_CUT)
    n = codes.shape[0]
    if n * n_items * max(q, 61) < SERIAL_BELOW * 61:
        return _moments_kernel(codes, *args)
    parts = run_blocks(_moments_kernel, [(codes[start:stop],) + args
                                         for start, stop in block_bounds(n, _n_parts(n))])
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
