r"""Many-facet Rasch model (Linacre) by marginal maximum likelihood.

A rating :math:`x \in \{0, \dots, K-1\}` given by rater :math:`r` to person (target)
:math:`p` on item :math:`i` follows an adjacent-category (Rasch) model whose log-odds of
category :math:`k` over :math:`k-1` is

.. math::

    \log \frac{P(x = k)}{P(x = k - 1)} = \theta_p - b_i - s_r - \tau_{k}, \qquad
    \theta_p \sim N(0, \sigma^2),

with item locations :math:`b_i` (fixed), rater severities :math:`s_r` (fixed, centred:
:math:`\sum_r s_r = 0`) and Andrich thresholds :math:`\tau_k` that sum to zero. The three
models differ only in the thresholds:

``"rating_scale"``
    one set :math:`\tau_1, \dots, \tau_{K-1}` shared by every item (Andrich 1978);
``"partial_credit"``
    one centred set :math:`\tau_{i1}, \dots, \tau_{i,K-1}` per item (Masters 1982), so the
    step difficulties of item :math:`i` are :math:`b_i + \tau_{ik}`;
``"dichotomous"``
    :math:`K = 2` (ratings 0/1), no thresholds: the logistic mixed model
    :math:`\operatorname{logit} P(x = 1) = \theta_p - b_i - s_r`, which is
    ``lme4::glmer(y ~ 0 + item + rater + (1 | person), family = binomial)`` with
    :math:`b_i = -(\beta_i + \bar\gamma)` and :math:`s_r = -(\gamma_r - \bar\gamma)`
    (glmer's rater effects :math:`\gamma_r` are treatment-coded, the first rater's is 0).

The person facet is integrated out (Bock-Aitkin): with standard-normal quadrature nodes
:math:`z_q` and weights :math:`w_q` (:func:`psychometrics.quadrature.normal_quadrature`) the
marginal log-likelihood is

.. math:: \log L = \sum_p \log \sum_q w_q \prod_{(i, r) \in p} P(x_{pir} \mid \sigma z_q - b_i - s_r),

so :math:`\sigma` is a parameter of the nodes (:math:`\theta_q = \sigma z_q`) and the grid
always spans the same number of person SDs. It is maximized by Newton-Raphson with
Levenberg damping on the exact Hessian (Louis 1982: the posterior expectation of the
complete-data Hessian plus the posterior covariance of the complete-data score), whose
inverse also gives the standard errors. Only the ratings present enter the likelihood: a
rater who did not rate a target is absent, never imputed. The E-step is array arithmetic
over ratings x nodes x categories, summed to persons with a sparse matrix product; there is
no loop over persons.

References
----------
.. [1] Linacre, J. M. (1989). *Many-facet Rasch measurement*. Chicago: MESA Press.
.. [2] Andrich, D. (1978). A rating formulation for ordered response categories.
       Psychometrika, 43(4), 561-573.
.. [3] Masters, G. N. (1982). A Rasch model for partial credit scoring. Psychometrika,
       47(2), 149-174.
.. [4] Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item
       parameters: Application of an EM algorithm. Psychometrika, 46, 443-459.
.. [5] Louis, T. A. (1982). Finding the observed information matrix when using the EM
       algorithm. Journal of the Royal Statistical Society B, 44(2), 226-233.
.. [6] Wright, B. D. & Masters, G. N. (1982). *Rating Scale Analysis*. Chicago: MESA Press
       (infit and outfit mean squares, separation and reliability).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from psychometrics._blas import one_blas_thread
from psychometrics.errors import ConvergenceWarning, EstimationError, ResponseError
from psychometrics.items.base import LOG_FLOOR
from psychometrics.quadrature import normal_quadrature

__all__ = ["facets", "FacetsResult", "MODELS"]

MODELS = ("rating_scale", "partial_credit", "dichotomous")
Model = Literal["rating_scale", "partial_credit", "dichotomous"]

#: Persons x parameters x nodes doubles held at once when the Hessian's covariance term is built.
_CHUNK_DOUBLES = 20_000_000
#: Posterior node weights below this are left out of the Hessian's covariance term (their share of it
#: is below 1e-14 relative).
_NEGLIGIBLE_POSTERIOR = 1e-14


# ------------------------------------------------------------------------------ result

@dataclass(frozen=True)
class FacetsResult:
    """A fitted many-facet Rasch model (see :func:`facets`).

    Attributes
    ----------
    model : str
        ``"rating_scale"``, ``"partial_credit"`` or ``"dichotomous"``.
    item_params : DataFrame
        Indexed by item: ``b`` (location, logits) and its ``se``; thresholds ``tau1..tau{K-1}``
        with ``tau1_se..`` (the same shared values on every row under the rating-scale model;
        absent for dichotomous ratings); ``infit``, ``outfit`` (mean squares) and ``n`` (ratings).
    rater_severity : DataFrame
        Indexed by rater: ``severity`` (logits, centred at 0; higher = harsher), ``se``,
        ``infit``, ``outfit``, ``n`` (ratings given).
    person_measures : DataFrame
        Indexed by person: ``EAP`` (posterior mean of :math:`\\theta`, adjusted for the
        severity of the raters the person had and the items rated), ``se`` (posterior SD),
        ``n`` (ratings received).
    person_sd : float
        Estimated SD :math:`\\sigma` of the person facet, with ``person_sd_se``.
    loglik : float
        Marginal log-likelihood at the estimates.
    separation : DataFrame
        Indexed by facet (``person``, ``item``, ``rater``): ``n``, ``sd`` (observed SD of the
        measures), ``rmse`` (root mean square SE), ``true_sd``, ``separation`` and ``reliability``.
    categories : tuple of int
        Rating codes; code ``categories[k]`` is category ``k``.
    converged : bool
        Whether Newton-Raphson met ``tol`` within ``max_iter`` iterations.
    n_iter : int
    """

    model: str
    item_params: pd.DataFrame
    rater_severity: pd.DataFrame
    person_measures: pd.DataFrame
    person_sd: float
    person_sd_se: float
    loglik: float
    separation: pd.DataFrame
    categories: tuple[int, ...]
    converged: bool
    n_iter: int

    @property
    def n_parameters(self) -> int:
        """Free parameters: items + raters - 1 + free thresholds + the person SD."""
        n_items, n_raters = len(self.item_params), len(self.rater_severity)
        k = len(self.categories)
        n_tau = {"rating_scale": k - 2, "partial_credit": n_items * (k - 2), "dichotomous": 0}[self.model]
        return n_items + n_raters - 1 + max(n_tau, 0) + 1

    def summary(self) -> str:
        """A plain-text overview: fit, person SD, separation and the rater table."""
        lines = [f"Many-facet Rasch model ({self.model.replace('_', '-')}), marginal ML",
                 f"  {len(self.person_measures)} persons, {len(self.item_params)} items, "
                 f"{len(self.rater_severity)} raters, {int(self.rater_severity['n'].sum())} ratings, "
                 f"categories {self.categories[0]}-{self.categories[-1]}",
                 f"  log-likelihood {self.loglik:.3f}, {self.n_parameters} parameters, "
                 f"{'converged' if self.converged else 'NOT converged'} in {self.n_iter} iterations",
                 f"  person SD {self.person_sd:.3f} (SE {self.person_sd_se:.3f})", "",
                 "Separation and reliability"]
        for facet, row in self.separation.iterrows():
            lines.append(f"  {facet:<7} separation {row['separation']:6.2f}  reliability {row['reliability']:.3f}")
        lines += ["", "Raters (severity in logits; fit mean squares near 1 are expected)"]
        frame = self.rater_severity.sort_values("severity", ascending=False)
        for rater, row in frame.iterrows():
            lines.append(f"  {str(rater):<14} {row['severity']:7.3f} (SE {row['se']:.3f})  infit {row['infit']:.2f}"
                         f"  outfit {row['outfit']:.2f}  n {int(row['n'])}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Every facet element in one long table: ``facet``, ``element``, ``measure``, ``se``,
        ``infit``, ``outfit``, ``n`` (persons have no fit columns here)."""
        items = self.item_params.rename(columns={"b": "measure"})[["measure", "se", "infit", "outfit", "n"]]
        raters = self.rater_severity.rename(columns={"severity": "measure"})[["measure", "se", "infit", "outfit", "n"]]
        persons = self.person_measures.rename(columns={"EAP": "measure"})[["measure", "se", "n"]]
        parts = []
        for facet, frame in (("person", persons), ("item", items), ("rater", raters)):
            part = frame.copy()
            part.insert(0, "element", part.index.to_numpy())
            part.insert(0, "facet", facet)
            parts.append(part.reset_index(drop=True))
        return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------ input

def _codes(column: pd.Series, what: str, frame: pd.DataFrame, position: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    missing = column.isna().to_numpy()
    if missing.any():
        row = int(position[np.flatnonzero(missing)[0]])
        raise ResponseError(f"ratings: row {row} (label {frame.index[row]!r}) has no {what} "
                            f"(column {column.name!r}); every rating needs person, item and rater labels")
    codes, labels = pd.factorize(column, sort=True)
    return codes.astype(np.int64), pd.Index(labels, name=column.name)


def _prepare(long: pd.DataFrame, person: str, item: str, rater: str, rating: str, model: str,
             replicates: bool = False):
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(repr(m) for m in MODELS)}, got {model!r}")
    if not isinstance(long, pd.DataFrame):
        raise TypeError(f"facets needs a long DataFrame (one row per rating), got {type(long).__name__}")
    for argument, name in (("person", person), ("item", item), ("rater", rater), ("rating", rating)):
        if name not in long.columns:
            raise ResponseError(f"column {name!r} given as {argument}= is not in the ratings "
                                f"(columns: {list(long.columns)})")
    values = pd.to_numeric(long[rating], errors="coerce").to_numpy(dtype=np.float64)
    unreadable = np.isnan(values) & long[rating].notna().to_numpy()
    if unreadable.any():
        row = int(np.flatnonzero(unreadable)[0])
        raise ResponseError(f"ratings: row {row} (person {long[person].iat[row]!r}, item {long[item].iat[row]!r}, "
                            f"rater {long[rater].iat[row]!r}): rating {long[rating].iat[row]!r} is not a number")
    bad = np.isfinite(values) & (values != np.round(values))
    bad |= np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ResponseError(f"ratings: row {row} (person {long[person].iat[row]!r}, item {long[item].iat[row]!r}, "
                            f"rater {long[rater].iat[row]!r}): rating {float(values[row])!r} is not an integer category "
                            "code")
    # a missing rating is absent from the likelihood, not a category
    keep = np.isfinite(values)
    if not keep.any():
        raise ResponseError("ratings: every rating is missing")
    position = np.flatnonzero(keep)
    frame = long.iloc[position]
    values = values[keep].astype(np.int64)
    p, persons = _codes(frame[person], "person", long, position)
    i, items = _codes(frame[item], "item", long, position)
    r, raters = _codes(frame[rater], "rater", long, position)
    key = pd.DataFrame({"p": p, "i": i, "r": r})
    duplicated = key.duplicated(keep=False).to_numpy()
    if duplicated.any() and not replicates:
        rows = position[np.flatnonzero(duplicated)[:2]]
        raise ResponseError(f"ratings: rows {int(rows[0])} and {int(rows[1])} both rate person "
                            f"{long[person].iat[rows[0]]!r} on item {long[item].iat[rows[0]]!r} by rater "
                            f"{long[rater].iat[rows[0]]!r}; keep one rating per person, item and rater (or pass "
                            "replicates=True when the rater facet groups raters, e.g. rater='rater_role')")
    codes = np.unique(values)
    if model == "dichotomous":
        if not set(codes.tolist()) <= {0, 1}:
            other = int(codes[~np.isin(codes, [0, 1])][0])
            row = int(position[np.flatnonzero(values == other)[0]])
            raise ResponseError(f"ratings: row {row}: rating {other} is not 0 or 1; the dichotomous model needs "
                                "0/1 ratings (use model='rating_scale' for ordered categories)")
        codes = np.array([0, 1])
    else:
        codes = np.arange(codes[0], codes[-1] + 1)
    k = len(codes)
    if k < 2:
        raise ResponseError(f"ratings: every rating is {int(codes[0])}; the model needs at least two categories")
    x = values - codes[0]
    counts = np.bincount(x, minlength=k)
    if (counts == 0).any():
        empty = int(codes[np.flatnonzero(counts == 0)[0]])
        raise ResponseError(f"ratings: category {empty} is never used (codes {int(codes[0])}-{int(codes[-1])}); its "
                            "threshold is not identified: recode the ratings to consecutive used categories")
    if model == "partial_credit" and k > 2:
        per_item = np.zeros((len(items), k), dtype=np.int64)
        np.add.at(per_item, (i, x), 1)
        gaps = np.argwhere(per_item == 0)
        if len(gaps):
            j, c = (int(v) for v in gaps[0])
            raise ResponseError(f"item {items[j]!r}: category {int(codes[c])} is never used, so its partial-credit "
                                "threshold is not identified; collapse categories or use model='rating_scale'")
    for codes_of, labels, what, verb in ((r, raters, "rater", "gives"), (i, items, "item", "receives")):
        low = np.bincount(codes_of, weights=(x == 0), minlength=len(labels))
        high = np.bincount(codes_of, weights=(x == k - 1), minlength=len(labels))
        n = np.bincount(codes_of, minlength=len(labels))
        extreme = np.flatnonzero((low == n) | (high == n))
        if len(extreme):
            j = int(extreme[0])
            end = codes[0] if low[j] == n[j] else codes[-1]
            raise ResponseError(f"{what} {labels[j]!r} {verb} only the extreme category {end} ({int(n[j])} ratings), "
                                f"so its measure is infinite; leave it out of the facets model"
                                + (f" ({len(extreme)} {what}s are extreme)" if len(extreme) > 1 else ""))
    if len(raters) < 1 or len(persons) < 2:
        raise ResponseError(f"ratings: need at least 2 persons, got {len(persons)}")
    return p, i, r, x, persons, items, raters, tuple(int(c) for c in codes)


# ------------------------------------------------------------------------------ the likelihood

class _Facets:
    """Data, parameter layout and the marginal log-likelihood with its derivatives.

    Raw parameters: ``b`` (items), ``s`` (all raters), ``tau`` (threshold sets x (K-1)),
    ``log sigma``. Free parameters drop one rater and one threshold per set (sum-to-zero
    constraints): ``raw = J @ free``.

    Category probabilities depend on a rating only through its (item, rater) *cell*, so they
    are computed once per cell and node; a sparse matrix ``M`` (cells x categories by
    persons) counts each person's ratings per cell and category. The person log-likelihoods
    are ``M^T log P`` and the expected counts of the E-step ``M pi`` (``pi`` the posterior
    over nodes), as in :mod:`psychometrics.estep`: no array over ratings x nodes is formed
    except per chunk of persons for the Hessian's covariance term.
    """

    def __init__(self, p, i, r, x, n_persons, n_items, n_raters, k, model, quadrature_points):
        self.p, self.i, self.r, self.x = p, i, r, x
        self.n_persons, self.n_items, self.n_raters, self.k = n_persons, n_items, n_raters, k
        self.n_obs = len(self.x)
        quad = normal_quadrature(quadrature_points)
        self.z, self.log_w = quad.nodes, quad.log_weights
        self.n_sets = 0 if k == 2 else (1 if model == "rating_scale" else n_items)
        self.set_of = np.zeros(self.n_obs, dtype=np.int64) if self.n_sets <= 1 else self.i
        # (item, rater) cells that occur
        codes, cell = np.unique(i * n_raters + r, return_inverse=True)
        self.n_cells = len(codes)
        self.cell_item, self.cell_rater = codes // n_raters, codes % n_raters
        self.cell_set = np.zeros(self.n_cells, dtype=np.int64) if self.n_sets <= 1 else self.cell_item
        rows = cell * k + x
        self.counts = sparse.csr_matrix((np.ones(self.n_obs), (rows, p)), shape=(self.n_cells * k, n_persons))
        self.counts.sum_duplicates()
        self.counts_t = self.counts.T.tocsr()
        coo = self.counts_t.tocoo()                   # rows persons (sorted), columns cell*K + category
        self.nz_person, self.nz_row, self.nz_count = coo.row, coo.col, coo.data
        # raw layout
        self.o_s = n_items
        self.o_tau = n_items + n_raters
        self.o_sigma = self.o_tau + self.n_sets * (k - 1)
        self.n_raw = self.o_sigma + 1
        # free -> raw
        n_free = n_items + (n_raters - 1) + self.n_sets * (k - 2) + 1
        jac = np.zeros((self.n_raw, n_free))
        jac[:n_items, :n_items] = np.eye(n_items)
        col = n_items
        jac[self.o_s:self.o_s + n_raters - 1, col:col + n_raters - 1] = np.eye(n_raters - 1)
        jac[self.o_s + n_raters - 1, col:col + n_raters - 1] = -1.0
        col += n_raters - 1
        for t in range(self.n_sets):
            row = self.o_tau + t * (k - 1)
            jac[row:row + k - 2, col:col + k - 2] = np.eye(k - 2)
            jac[row + k - 2, col:col + k - 2] = -1.0
            col += k - 2
        jac[self.o_sigma, col] = 1.0
        self.jac = jac
        self.categories = np.arange(k, dtype=np.float64)
        # [k >= j] for categories k = 0..K-1 and thresholds j = 1..K-1
        self.at_least = (self.categories[:, None] >= np.arange(1, k)[None, :]).astype(np.float64)

    # -- parameters
    def split(self, raw: np.ndarray):
        b = raw[:self.n_items]
        s = raw[self.o_s:self.o_tau]
        tau = raw[self.o_tau:self.o_sigma].reshape(self.n_sets, self.k - 1)
        return b, s, tau, math.exp(raw[self.o_sigma])

    def start(self) -> np.ndarray:
        mean = np.bincount(self.i, weights=self.x, minlength=self.n_items) / np.maximum(
            np.bincount(self.i, minlength=self.n_items), 1)
        share = np.clip(mean / (self.k - 1), 0.02, 0.98)
        free = np.zeros(self.jac.shape[1])
        free[:self.n_items] = -np.log(share / (1 - share)) / max(self.k - 1, 1) * 2
        return free

    # -- category probabilities of every cell at every node
    def _probabilities(self, raw: np.ndarray):
        b, s, tau, sigma = self.split(raw)
        eta = sigma * self.z[None, :] - (b[self.cell_item] + s[self.cell_rater])[:, None]      # (C, Q)
        cum = np.zeros((max(self.n_sets, 1), self.k))
        if self.n_sets:
            cum[:, 1:] = np.cumsum(tau, axis=1)
        z = eta[:, :, None] * self.categories[None, None, :] - cum[self.cell_set][:, None, :]
        log_prob = z - z.max(axis=2, keepdims=True)
        log_prob -= np.log(np.exp(log_prob).sum(axis=2, keepdims=True))
        return log_prob, sigma                                                                 # (C, Q, K)

    def loglik_and_posterior(self, raw: np.ndarray):
        log_prob, sigma = self._probabilities(raw)
        table = np.maximum(log_prob, LOG_FLOOR).transpose(0, 2, 1).reshape(self.n_cells * self.k, -1)
        ll = self.counts_t @ table + self.log_w[None, :]                                      # (P, Q)
        top = ll.max(axis=1, keepdims=True)
        post = np.exp(ll - top)
        total = post.sum(axis=1, keepdims=True)
        post /= total
        return float((top + np.log(total)).sum()), post, np.exp(log_prob), sigma

    def loglik(self, raw: np.ndarray) -> float:
        return self.loglik_and_posterior(raw)[0]

    def derivatives(self, raw: np.ndarray):
        """Log-likelihood, raw gradient, raw Hessian (Louis), posterior."""
        loglik, post, prob, sigma = self.loglik_and_posterior(raw)
        k, n_raw, n_cells = self.k, self.n_raw, self.n_cells
        q = len(self.z)
        # expected counts r[c, q, k] of the E-step and their node totals n[c, q]
        expected = (self.counts @ post).reshape(n_cells, k, q).transpose(0, 2, 1)
        n = expected.sum(axis=2)
        sz = sigma * self.z
        mean_k = prob @ self.categories                                                        # (C, Q)
        var_k = prob @ self.categories ** 2 - mean_k ** 2
        score_eta = expected @ self.categories - n * mean_k          # sum over ratings of d l / d eta
        if self.n_sets:
            surv = np.cumsum(prob[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]                   # P(k >= j), (C, Q, K-1)
            k_tail = np.cumsum((prob * self.categories)[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]
            cov_k_u = k_tail - mean_k[:, :, None] * surv                                      # Cov(k, [k >= j])
            # sum over ratings of d l / d tau_j = S_j - [x >= j]
            score_tau = n[:, :, None] * surv - expected @ self.at_least                       # (C, Q, K-1)
        # ---- gradient
        grad = np.zeros(n_raw)
        per_cell = score_eta.sum(axis=1)
        grad[:self.n_items] = -np.bincount(self.cell_item, weights=per_cell, minlength=self.n_items)
        grad[self.o_s:self.o_tau] = -np.bincount(self.cell_rater, weights=per_cell, minlength=self.n_raters)
        grad[self.o_sigma] = float((score_eta * sz[None, :]).sum())
        if self.n_sets:
            tau_idx = self.o_tau + self.cell_set[:, None] * (k - 1) + np.arange(k - 1)[None, :]  # (C, K-1)
            grad += np.bincount(tau_idx.ravel(), weights=score_tau.sum(axis=1).ravel(), minlength=n_raw)
        # ---- complete-data Hessian, expected under the posterior
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []

        def add(a, c, v):
            for one, two in ((a, c), (c, a)):
                rows.append(np.broadcast_to(one, v.shape).ravel())
                cols.append(np.broadcast_to(two, v.shape).ravel())
                vals.append(v.ravel())

        bi, sr = self.cell_item, self.o_s + self.cell_rater
        sig = np.full(n_cells, self.o_sigma)
        nv = n * var_k
        w0 = nv.sum(axis=1)
        w1 = nv @ sz
        w2 = nv @ sz ** 2
        add(bi, bi, -w0 / 2)
        add(sr, sr, -w0 / 2)
        add(bi, sr, -w0)
        add(bi, sig, w1)
        add(sr, sig, w1)
        add(sig, sig, (-w2 + score_eta @ sz) / 2)
        if self.n_sets:
            wt = np.einsum("cq,cqj->cj", n, cov_k_u)
            wts = np.einsum("cq,cqj->cj", n * sz[None, :], cov_k_u)
            add(bi[:, None], tau_idx, -wt)
            add(sr[:, None], tau_idx, -wt)
            add(sig[:, None], tau_idx, wts)
            # Cov([k >= j], [k >= l]) = S_max(j,l) - S_j S_l
            jj = np.arange(k - 1)
            hi = np.maximum(jj[:, None], jj[None, :])
            for j in range(k - 1):
                cov_u = surv[:, :, hi[j]] - surv[:, :, j:j + 1] * surv                        # (C, Q, K-1)
                add(tau_idx[:, j:j + 1], tau_idx, -np.einsum("cq,cql->cl", n, cov_u) / 2)
        flat = np.concatenate(rows) * n_raw + np.concatenate(cols)
        hess = np.bincount(flat, weights=np.concatenate(vals), minlength=n_raw * n_raw).reshape(n_raw, n_raw)
        # ---- plus the posterior covariance of each person's complete-data score
        residual = self.categories[None, None, :] - mean_k[:, :, None]                        # k - E, (C, Q, K)
        tables = [(np.repeat(self.cell_item, k), -residual), (np.repeat(sr, k), -residual),
                  (np.full(n_cells * k, self.o_sigma), residual * sz[None, :, None])]
        if self.n_sets:
            for j in range(k - 1):
                tables.append((np.repeat(tau_idx[:, j], k), surv[:, :, j:j + 1] - self.at_least[None, None, :, j]))
        tables = [(column, value.transpose(0, 2, 1).reshape(n_cells * k, q)) for column, value in tables]
        hess += self._score_covariance(post, tables)
        return loglik, grad, hess, post

    def _score_covariance(self, post, tables):
        """sum_p [sum_q pi_pq G_pq G_pq^T - m_p m_p^T], G_pq each person's complete-data score at node q."""
        n_raw, q = self.n_raw, len(self.z)
        out = np.zeros((n_raw, n_raw))
        chunk = max(1, _CHUNK_DOUBLES // (n_raw * q))
        bounds = np.searchsorted(self.nz_person, np.arange(0, self.n_persons + chunk, chunk))
        stacked = np.concatenate([values for _, values in tables])
        stacked_rows = tables[0][1].shape[0]
        for c, start in enumerate(range(0, self.n_persons, chunk)):
            stop = min(start + chunk, self.n_persons)
            lo, hi = bounds[c], bounds[c + 1]
            n_p = stop - start
            local, row, count = self.nz_person[lo:hi] - start, self.nz_row[lo:hi], self.nz_count[lo:hi]
            # one sparse product scatters every parameter's column of every rating into the persons' scores
            scatter = sparse.csr_matrix(
                (np.tile(count, len(tables)),
                 (np.concatenate([local * n_raw + column[row] for column, _ in tables]),
                  np.concatenate([t * stacked_rows + row for t in range(len(tables))]))),
                shape=(n_p * n_raw, len(tables) * stacked_rows))
            score = (scatter @ stacked).reshape(n_p, n_raw, q)
            w = post[start:stop]
            mean = np.matmul(score, w[:, :, None])[:, :, 0]
            score *= np.sqrt(w)[:, None, :]
            # a person's posterior sits on a few nodes; the others add nothing to the product
            keep = (w > _NEGLIGIBLE_POSTERIOR).ravel()
            scaled = score.transpose(1, 0, 2).reshape(n_raw, n_p * q)[:, keep]
            out += scaled @ scaled.T - mean.T @ mean
        return out


# ------------------------------------------------------------------------------ the verb

@one_blas_thread
def facets(long: pd.DataFrame, *, person: str = "target_id", item: str = "item", rater: str = "rater_id",
           rating: str = "rating", model: Model = "rating_scale", quadrature_points: int = 61,
           tol: float = 1e-6, max_iter: int = 100, replicates: bool = False) -> FacetsResult:
    r"""Fit a many-facet Rasch model: persons (random) x items x raters (fixed).

    Parameters
    ----------
    long : DataFrame
        One row per rating. Rows with a missing rating are left out (a rater need not rate
        every target or item); ratings are integer category codes, consecutive and all used
        (0/1 for ``model="dichotomous"``).
    person, item, rater, rating : str
        Column names of the person (target), item, rater and rating. Any column can serve as
        a facet, e.g. ``rater="rater_role"`` estimates one severity per role.
    model : {"rating_scale", "partial_credit", "dichotomous"}
        Thresholds shared by all items, one set per item, or none (0/1 ratings).
    quadrature_points : int
        Nodes of the standard-normal grid on [-6, 6] that integrates the person facet.
    tol : float
        Convergence: largest absolute Newton step in the free parameters.
    max_iter : int
        Newton-Raphson iterations at most.
    replicates : bool
        Allow several ratings of one person on one item by one rater element (independent
        given the person): needed when the rater facet groups raters, e.g.
        ``rater="rater_role"`` with three peers per target. Off by default, so that a
        duplicated row is reported rather than counted twice.

    Returns
    -------
    FacetsResult

    Notes
    -----
    .. math::

        \log \frac{P(x_{pir} = k)}{P(x_{pir} = k - 1)} = \theta_p - b_i - s_r - \tau_{(i)k},
        \qquad \theta_p \sim N(0, \sigma^2), \quad \sum_r s_r = 0, \quad \sum_k \tau_{(i)k} = 0.

    Standard errors come from the inverse of the observed information (exact Hessian of the
    marginal log-likelihood). Person measures are EAP estimates with posterior SDs. Fit
    statistics use the EAP measures: with expected rating :math:`E` and variance :math:`W`
    of each rating, outfit is the mean of :math:`(x - E)^2/W` and infit
    :math:`\sum (x - E)^2 / \sum W` over an element's ratings. Item and rater separation
    :math:`G = \sqrt{SD^2 - RMSE^2}/RMSE` and reliability :math:`G^2/(1 + G^2)` follow Wright
    & Masters (1982) with the population SD of the estimates and the root mean squared SE;
    for persons, whose EAPs are already shrunk, reliability is the empirical
    :math:`\operatorname{Var}(EAP) / (\operatorname{Var}(EAP) + \overline{SE^2})` and
    :math:`G = \sqrt{rel/(1 - rel)}`.

    References
    ----------
    .. [1] Linacre, J. M. (1989). *Many-facet Rasch measurement*. Chicago: MESA Press.
    .. [2] Wright, B. D. & Masters, G. N. (1982). *Rating Scale Analysis*. Chicago: MESA Press.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> grid = pd.MultiIndex.from_product([range(80), ["i1", "i2", "i3"], ["r1", "r2"]],
    ...                                   names=["target_id", "item", "rater_id"]).to_frame(index=False)
    >>> theta = rng.normal(size=80)[grid.target_id]
    >>> severity = grid.rater_id.map({"r1": -0.5, "r2": 0.5}).to_numpy()
    >>> grid["rating"] = (rng.random(len(grid)) < 1 / (1 + np.exp(severity - theta))).astype(int)
    >>> fit = facets(grid, model="dichotomous")
    >>> bool(fit.rater_severity.loc["r1", "severity"] < fit.rater_severity.loc["r2", "severity"])
    True
    """
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    p, i, r, x, persons, items, raters, codes = _prepare(long, person, item, rater, rating, model, replicates)
    k = len(codes)
    problem = _Facets(p, i, r, x, len(persons), len(items), len(raters), k, model, quadrature_points)
    jac = problem.jac
    free = problem.start()
    loglik, grad, hess, post = problem.derivatives(jac @ free)
    damping = 0.0
    converged = False
    n_iter = 0
    for n_iter in range(1, int(max_iter) + 1):
        g_f, h_f = jac.T @ grad, jac.T @ hess @ jac
        step = None
        for _ in range(30):
            matrix = -h_f + damping * np.eye(len(free))
            try:
                candidate = np.linalg.solve(matrix, g_f)
            except np.linalg.LinAlgError:
                candidate = None
            if candidate is not None and np.all(np.isfinite(candidate)):
                # Newton on a non-concave stretch can point downhill: require an ascent step
                new = problem.loglik(jac @ (free + candidate))
                if new >= loglik - 1e-10 * abs(loglik):
                    step = candidate
                    break
            damping = max(1e-4, damping * 10 if damping else 1e-3 * float(np.abs(np.diag(h_f)).max()))
        if step is None:
            break
        free = free + step
        damping = damping / 10 if damping > 1e-8 else 0.0
        loglik, grad, hess, post = problem.derivatives(jac @ free)
        if float(np.abs(step).max()) < tol and float(np.abs(jac.T @ grad).max()) < 1e-3:
            converged = True
            break
    if not converged:
        warnings.warn(f"facets: Newton-Raphson stopped after {n_iter} iterations without meeting tol={tol:g} "
                      "(a facet element rated only at the extreme categories has an infinite measure); "
                      "estimates may not be trustworthy", ConvergenceWarning, stacklevel=2)
    h_f = jac.T @ hess @ jac
    try:
        cov_free = np.linalg.inv(-h_f)
    except np.linalg.LinAlgError as exc:
        raise EstimationError("facets: the information matrix is singular; a facet is not connected to the others "
                              "(e.g. raters who share no targets with other raters) or an element has no "
                              "variation in its ratings") from exc
    cov = jac @ cov_free @ jac.T
    raw = jac @ free
    if converged and (not np.all(np.diag(cov_free) > 0) or np.abs(raw).max() > 15):
        warnings.warn("facets: an estimate is beyond 15 logits or has no standard error; some element is (almost) "
                      "always rated at one extreme or a facet is not connected to the others", ConvergenceWarning,
                      stacklevel=2)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    se[np.diag(cov) < 0] = np.nan
    return _result(problem, raw, se, post, loglik, persons, items, raters, codes, model, converged, n_iter)


def _fit_statistics(problem: _Facets, raw: np.ndarray, theta: np.ndarray):
    b, s, tau, _ = problem.split(raw)
    eta = theta[problem.p] - b[problem.i] - s[problem.r]
    cum = np.zeros((max(problem.n_sets, 1), problem.k))
    if problem.n_sets:
        cum[:, 1:] = np.cumsum(tau, axis=1)
    z = eta[:, None] * problem.categories[None, :] - cum[problem.set_of]
    z -= z.max(axis=1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    expected = prob @ problem.categories
    variance = prob @ problem.categories ** 2 - expected ** 2
    residual2 = (problem.x - expected) ** 2
    z2 = residual2 / np.maximum(variance, 1e-12)

    def by(index, n):
        count = np.bincount(index, minlength=n)
        outfit = np.bincount(index, weights=z2, minlength=n) / np.maximum(count, 1)
        infit = np.bincount(index, weights=residual2, minlength=n) / np.maximum(
            np.bincount(index, weights=variance, minlength=n), 1e-12)
        return infit, outfit, count

    return by(problem.i, problem.n_items), by(problem.r, problem.n_raters)


def _separation(measures: np.ndarray, se: np.ndarray) -> dict[str, float]:
    sd = float(np.std(measures))
    rmse = float(np.sqrt(np.mean(se ** 2)))
    true_var = max(sd ** 2 - rmse ** 2, 0.0)
    return {"n": len(measures), "sd": sd, "rmse": rmse, "true_sd": math.sqrt(true_var),
            "separation": math.sqrt(true_var) / rmse if rmse > 0 else math.inf,
            "reliability": true_var / sd ** 2 if sd > 0 else math.nan}


def _result(problem, raw, se, post, loglik, persons, items, raters, codes, model, converged, n_iter) -> FacetsResult:
    b, s, tau, sigma = problem.split(raw)
    nodes = sigma * problem.z
    eap = post @ nodes
    psd = np.sqrt(np.clip(post @ nodes ** 2 - eap ** 2, 0.0, None))
    (i_in, i_out, i_n), (r_in, r_out, r_n) = _fit_statistics(problem, raw, eap)
    item_params = pd.DataFrame({"b": b, "se": se[:problem.n_items]}, index=items)
    if problem.n_sets:
        tau_se = se[problem.o_tau:problem.o_sigma].reshape(problem.n_sets, problem.k - 1)
        rows = np.zeros(problem.n_items, dtype=np.int64) if problem.n_sets == 1 else np.arange(problem.n_items)
        for j in range(problem.k - 1):
            item_params[f"tau{j + 1}"] = tau[rows, j]
        for j in range(problem.k - 1):
            item_params[f"tau{j + 1}_se"] = tau_se[rows, j]
    item_params["infit"], item_params["outfit"], item_params["n"] = i_in, i_out, i_n
    rater_severity = pd.DataFrame({"severity": s, "se": se[problem.o_s:problem.o_tau], "infit": r_in,
                                   "outfit": r_out, "n": r_n}, index=raters)
    n_person = np.bincount(problem.p, minlength=problem.n_persons)
    person_measures = pd.DataFrame({"EAP": eap, "se": psd, "n": n_person}, index=persons)
    var_eap = float(np.var(eap))
    error = float(np.mean(psd ** 2))
    reliability = var_eap / (var_eap + error) if var_eap + error > 0 else math.nan
    person_row = {"n": problem.n_persons, "sd": math.sqrt(var_eap), "rmse": math.sqrt(error),
                  "true_sd": math.sqrt(var_eap), "separation": math.sqrt(reliability / (1 - reliability))
                  if reliability < 1 else math.inf, "reliability": reliability}
    separation = pd.DataFrame([person_row, _separation(b, item_params["se"].to_numpy()),
                               _separation(s, rater_severity["se"].to_numpy())],
                              index=pd.Index(["person", "item", "rater"], name="facet"))
    sigma_se = float(sigma * se[problem.o_sigma])
    return FacetsResult(model=model, item_params=item_params, rater_severity=rater_severity,
                        person_measures=person_measures, person_sd=float(sigma), person_sd_se=sigma_se,
                        loglik=float(loglik), separation=separation, categories=codes,
                        converged=converged, n_iter=n_iter)
