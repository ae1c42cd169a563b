r"""The adaptive-testing engine: the state of many examinees at once, one test position at a time.

A :class:`~psychometrics.cat.Session` is this engine with one examinee; :func:`~psychometrics.cat.simulate`
drives it with thousands. Every step is array arithmetic over the examinees still testing
(examinees x items criteria, examinees x quadrature-node posteriors); the only loop over
examinees is the shadow test's mixed-integer program, one per examinee and step.

The interim estimate is EAP on the grid of :func:`psychometrics.irt.score` (61 nodes over the
prior mean +/- 6 SD, normal weights, log-probabilities floored alike): the log-posterior of an
examinee is the log prior weights plus the log-probabilities of the categories answered, so
after any items it equals :func:`~psychometrics.irt.score` on those items.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np
from scipy.special import ndtri

from psychometrics._numeric import LOG_TINY as _LOG_FLOOR
from psychometrics.cat._options import Design
from psychometrics.scoring import _grid  # the grid of irt.score, so interim EAP equals it

__all__ = ["Engine", "KL_INTERVAL_Z", "QUADRATURE_POINTS"]

#: Nodes of the EAP grid, as :func:`psychometrics.irt.score` by default.
QUADRATURE_POINTS = 61
#: Half-width of the KL interval :math:`\delta_n = z / \sqrt{n}` (Chang & Ying 1996 use z = 3).
KL_INTERVAL_Z = 3.0
#: Gauss-Legendre points of the KL integral over the interval.
_KL_POINTS = 9
_KL_CHUNK = 1024
_NEG = -np.inf


#: Per design: the EAP grid and the tables on it (read-only), computed once. A service resumes
#: a stored session on every request; these depend on the pool only.
_TABLES: "weakref.WeakKeyDictionary[Design, tuple[np.ndarray, ...]]" = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def design_tables(design: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``nodes``, ``log_weights`` (the grid of :func:`psychometrics.irt.score`), ``log_p`` (J, Q, K;
    floored as in scoring) and ``info_grid`` (Q, J) of a design, cached while the design lives."""
    with _TABLES_LOCK:
        tables = _TABLES.get(design)
    if tables is None:
        cal = design.calibration
        nodes, log_weights = _grid(float(cal.latent_mean), float(cal.latent_variance), QUADRATURE_POINTS)
        log_p = np.maximum(np.asarray(cal.log_probabilities(nodes), dtype=np.float64), _LOG_FLOOR)
        info_grid = np.asarray(cal.information(nodes), dtype=np.float64)
        tables = tuple(np.array(table, dtype=np.float64) for table in (nodes, log_weights, log_p, info_grid))
        for table in tables:
            table.setflags(write=False)
        with _TABLES_LOCK:
            _TABLES[design] = tables
    return tables


class Engine:
    """State and steps of ``n`` examinees taking the same adaptive test design."""

    def __init__(self, design: Design, n: int, rng: np.random.Generator, *, shadow_milp: bool = True) -> None:
        self.design = design
        # Without enemy sets the shadow test's constraints (area counts, length) partition the
        # pool, and the program's optimum is the most informative free items of each area: an
        # exact solution computed for all examinees at once. milp solves the general case.
        self.shadow_milp = shadow_milp or bool(design.enemies)
        self.n = n
        self.rng = rng
        cal = design.calibration
        stop = design.stop
        self.n_items = design.n_items
        self.max_items = stop.max_items
        mean, variance = float(cal.latent_mean), float(cal.latent_variance)
        self.prior_mean = mean
        # log_p (J, Q, K) floored as in scoring, so 0 * floor stays finite; info_grid (Q, J)
        self.nodes, self.log_weights, self.log_p, self.info_grid = design_tables(design)
        self.n_categories = cal.n_categories

        J = self.n_items
        self.log_post = np.tile(self.log_weights, (n, 1))                                 # (n, Q)
        self.administered = np.zeros((n, J), dtype=bool)
        self.blocked = np.zeros((n, J), dtype=bool)         # enemies of administered items
        self.set_aside = np.zeros((n, J), dtype=bool)       # Sympson-Hetter: selected, not administered
        self.items = np.full((n, self.max_items), -1, dtype=np.int64)
        self.codes = np.full((n, self.max_items), -1, dtype=np.int64)
        self.length = np.zeros(n, dtype=np.int64)
        self.done = np.zeros(n, dtype=bool)
        self.stop_reason = np.full(n, "", dtype=object)
        self.theta = np.full(n, mean)
        self.se = np.full(n, math.sqrt(variance))
        self.theta_history = np.full((n, self.max_items), np.nan)
        self.se_history = np.full((n, self.max_items), np.nan)
        n_areas = len(design.area_names)
        self.area_count = np.zeros((n, max(n_areas, 1)), dtype=np.int64)
        self.selected_count = np.zeros(J)        # Sympson-Hetter P(S): every selection, kept or not
        if stop.cut is not None:
            self.classification = np.full(n, "", dtype=object)
            points = np.array([stop.cut - stop.indifference, stop.cut + stop.indifference])
            self.sprt_log_p = np.maximum(np.asarray(cal.log_probabilities(points)), _LOG_FLOOR)  # (J, 2, K)
            self.sprt_loglik = np.zeros((n, 2))
        else:
            self.classification = None
        if design.content is not None:
            self.area_target = np.array([design.content.get(a, 0.0) for a in design.area_names])
        if design.selection == "shadow":
            self._prepare_shadow()

    # ----------------------------------------------------------------------------- estimates
    def posterior(self, rows: np.ndarray) -> np.ndarray:
        post = self.log_post[rows] - self.log_post[rows].max(axis=1, keepdims=True)
        np.exp(post, out=post)
        post /= post.sum(axis=1, keepdims=True)
        return post

    def _update_estimates(self, rows: np.ndarray) -> None:
        # as scoring._eap_chunk: moments about the prior mean, against cancellation
        post = self.log_post[rows] - self.log_post[rows].max(axis=1, keepdims=True)
        np.exp(post, out=post)
        offset = self.nodes - self.prior_mean
        moments = post @ np.stack([np.ones_like(offset), offset, offset * offset], axis=1)
        mean = moments[:, 1] / moments[:, 0]
        self.theta[rows] = self.prior_mean + mean
        self.se[rows] = np.sqrt(np.maximum(moments[:, 2] / moments[:, 0] - mean * mean, 0.0))

    def selection_theta(self, rows: np.ndarray) -> np.ndarray:
        return np.where(self.length[rows] == 0, self.design.start_theta, self.theta[rows])

    # ----------------------------------------------------------------------------- eligibility
    def eligible(self, rows: np.ndarray) -> np.ndarray:
        ok = ~(self.administered[rows] | self.blocked[rows] | self.set_aside[rows])
        if self.design.content is not None:
            # areas without a target are never administered
            ok &= self.area_target[self.design.item_area][None, :] > 0
        return ok

    def _kingsbury_zara(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Restrict each examinee to the area furthest below its target proportion (Kingsbury & Zara 1989)."""
        d = self.design
        n_areas = len(d.area_names)
        one_hot = d.item_area[None, :] == np.arange(n_areas)[:, None]                # (A, J)
        available = (ok.astype(np.int64) @ one_hot.T.astype(np.int64)) > 0            # (M, A)
        given = np.maximum(self.length[rows], 1)[:, None]
        deficit = self.area_target[None, :] - self.area_count[rows, :n_areas] / given
        deficit = np.where(available & (self.area_target[None, :] > 0), deficit, _NEG)
        area = np.argmax(deficit, axis=1)
        return ok & (d.item_area[None, :] == area[:, None])

    # ----------------------------------------------------------------------------- criteria
    def criterion(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """(M, J) value of every item for every examinee by the selection rule (larger is better)."""
        rule = self.design.selection
        if rule in ("mfi", "progressive", "shadow"):
            value = self.information(self.selection_theta(rows))
            if rule == "progressive":
                value = self._progressive(rows, value, ok)
        elif rule == "kl":
            value = self._kl(rows)
        elif rule == "mpwi":
            value = self.posterior(rows) @ self.info_grid
        elif rule == "mepv":
            value = -self._expected_posterior_variance(rows)
        else:  # random
            value = self.rng.random((rows.size, self.n_items))
        value[~ok] = _NEG
        return value

    def information(self, theta: np.ndarray) -> np.ndarray:
        """(M, J) Fisher information of every item at each theta (the calibration's, as
        :func:`psychometrics.irt.item_information`)."""
        # examinees with the same answers share an estimate: early in a test there are few
        # distinct values, so information is computed once per value
        unique, inverse = np.unique(theta, return_inverse=True)
        if unique.size > 0.8 * theta.size:
            return np.asarray(self.design.calibration.information(theta), dtype=np.float64)
        info = np.asarray(self.design.calibration.information(unique), dtype=np.float64)
        return info[inverse.reshape(-1)]

    def _progressive(self, rows: np.ndarray, info: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Revuelta & Ponsoda (1998): :math:`(1 - s) U(0, \\max_j I_j) + s I_j`, ``s = n / L``."""
        top = np.where(ok, info, 0.0).max(axis=1, keepdims=True)
        weight = (self.length[rows] / self.max_items)[:, None]
        return (1.0 - weight) * self.rng.random(info.shape) * top + weight * info

    def _kl(self, rows: np.ndarray) -> np.ndarray:
        r"""Chang & Ying's (1996) KL index :math:`\int_{\hat\theta-\delta}^{\hat\theta+\delta}
        \sum_k P_k(\hat\theta) \log \frac{P_k(\hat\theta)}{P_k(\theta)} d\theta`, :math:`\delta = 3/\sqrt{n}`."""
        cal = self.design.calibration
        x, w = np.polynomial.legendre.leggauss(_KL_POINTS)
        out = np.empty((rows.size, self.n_items))
        for start in range(0, rows.size, _KL_CHUNK):
            part = rows[start:start + _KL_CHUNK]
            centre = self.selection_theta(part)
            delta = KL_INTERVAL_Z / np.sqrt(np.maximum(self.length[part], 1))
            points = centre[:, None] + delta[:, None] * x[None, :]                          # (m, P)
            log_hat = np.maximum(cal.log_probabilities(centre), _LOG_FLOOR)                  # (J, m, K)
            log_at = np.maximum(cal.log_probabilities(points.ravel()), _LOG_FLOOR)
            log_at = log_at.reshape(self.n_items, part.size, _KL_POINTS, -1)                 # (J, m, P, K)
            kl = np.einsum("jmk,jmpk->jmp", np.exp(log_hat), log_hat[:, :, None, :] - log_at)
            out[start:start + part.size] = (delta[:, None] * (kl @ w).T)
        return out

    def _expected_posterior_variance(self, rows: np.ndarray) -> np.ndarray:
        r""":math:`\sum_k P(x_j = k \mid \text{data})\, \mathrm{Var}(\theta \mid \text{data}, x_j = k)`
        on the grid (van der Linden 1998; Owen 1975)."""
        post = self.posterior(rows)                                                       # (M, Q)
        centred = self.nodes[None, :] - self.theta[rows][:, None]
        total = np.zeros((rows.size, self.n_items))
        prob = np.exp(self.log_p)                                                          # (J, Q, K)
        for k in range(prob.shape[2]):
            table = prob[:, :, k].T                                                        # (Q, J)
            m0 = post @ table
            m1 = (post * centred) @ table
            m2 = (post * centred * centred) @ table
            total += m2 - m1 * m1 / np.maximum(m0, 1e-300)
        return total

    # ----------------------------------------------------------------------------- shadow test
    def _prepare_shadow(self) -> None:
        from scipy import optimize  # heavy to import; only the shadow test needs it

        d = self.design
        rows, lower, upper = [], [], []
        if d.content is not None:
            for a, count in enumerate(d.area_counts):
                rows.append((d.item_area == a).astype(np.float64))
                lower.append(count)
                upper.append(count)
        for group in d.enemies:
            row = np.zeros(self.n_items)
            row[[d.position[i] for i in group]] = 1.0
            rows.append(row)
            lower.append(0.0)
            upper.append(1.0)
        rows.append(np.ones(self.n_items))
        lower.append(self.max_items)
        upper.append(self.max_items)
        self._shadow_constraint = optimize.LinearConstraint(np.vstack(rows), np.array(lower, float),
                                                            np.array(upper, float))

    def _shadow_test(self, row: int, info: np.ndarray, excluded: np.ndarray) -> np.ndarray | None:
        """Items of the most informative full-length test that holds the items given and every constraint."""
        from scipy import optimize

        lower = self.administered[row].astype(np.float64)
        upper = np.where(excluded & ~self.administered[row], 0.0, 1.0)
        result = optimize.milp(-info, integrality=np.ones(self.n_items),
                               bounds=optimize.Bounds(lower, upper), constraints=self._shadow_constraint)
        if result.status != 0 or result.x is None:
            return None
        return result.x > 0.5

    def _shadow_partition(self, rows: np.ndarray, info: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Free items of the shadow test when the constraints only fix counts per area."""
        d = self.design
        in_test = np.zeros(info.shape, dtype=bool)
        if d.content is None:
            groups = [(np.ones(self.n_items, dtype=bool), self.max_items - self.length[rows])]
        else:
            groups = [(d.item_area == a, d.area_counts[a] - self.area_count[rows, a])
                      for a in range(len(d.area_names))]
        for members, remaining in groups:
            value = np.where(ok & members[None, :], info, _NEG)
            order = np.argsort(-value, axis=1, kind="stable")
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(self.n_items)[None, :], axis=1)
            in_test |= (rank < remaining[:, None]) & np.isfinite(value)
        return np.where(in_test, info, _NEG)

    def _shadow_criterion(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        info = self.information(self.selection_theta(rows))
        if not self.shadow_milp:
            out = self._shadow_partition(rows, info, ok)
            stuck = ~np.isfinite(out).any(axis=1)
            if stuck.any():
                # as with milp below: items set aside by exposure control come back rather than
                # leave an area short
                relaxed = ok[stuck] | (self.set_aside[rows[stuck]] & ~self.blocked[rows[stuck]])
                out[stuck] = self._shadow_partition(rows[stuck], info[stuck], relaxed)
            return out
        out = np.full(info.shape, _NEG)
        for m, row in enumerate(rows):
            chosen = self._shadow_test(row, info[m], ~ok[m])
            if chosen is None:
                # exposure control set too many items aside for a feasible test: let them back in
                chosen = self._shadow_test(row, info[m], self.administered[row] | self.blocked[row])
            if chosen is None:
                raise RuntimeError(f"no shadow test meets the constraints after {int(self.length[row])} items")
            free = chosen & ok[m]
            out[m, free] = info[m, free]
        return out

    # ----------------------------------------------------------------------------- one step
    def select(self, rows: np.ndarray) -> np.ndarray:
        """Next item of each examinee in ``rows`` (-1 where no eligible item is left)."""
        d = self.design
        ok = self.eligible(rows)
        if d.selection == "shadow":
            value = self._shadow_criterion(rows, ok)
        else:
            if d.content is not None:
                ok = self._kingsbury_zara(rows, ok)
            value = self.criterion(rows, ok)
        finite = np.isfinite(value)
        chosen = np.full(rows.size, -1, dtype=np.int64)
        has = finite.any(axis=1)
        if not has.any():
            return chosen
        value, finite, sub = value[has], finite[has], rows[has]
        if d.exposure_kind == "randomesque":
            picked = self._randomesque(value, finite)
        elif d.exposure_kind == "sympson-hetter":
            picked = self._sympson_hetter(sub, value, finite)
        else:
            picked = np.argmax(value, axis=1)
        chosen[has] = picked
        return chosen

    def _randomesque(self, value: np.ndarray, finite: np.ndarray) -> np.ndarray:
        """One of the ``k`` best items at random (Kingsbury & Zara 1989)."""
        k = min(self.design.randomesque, value.shape[1])
        n_items = value.shape[1]
        top = np.argpartition(-value, k - 1, axis=1)[:, :k] if k < n_items else \
            np.tile(np.arange(n_items), (value.shape[0], 1))
        valid = np.take_along_axis(finite, top, axis=1)
        # eligible items first, each group by position, so the pick does not depend on
        # argpartition's internal order
        top = np.take_along_axis(top, np.argsort(np.where(valid, top, top + n_items), axis=1), axis=1)
        n_valid = valid.sum(axis=1)
        pick = np.minimum((self.rng.random(value.shape[0]) * n_valid).astype(np.int64), n_valid - 1)
        return top[np.arange(value.shape[0]), pick]

    def _sympson_hetter(self, rows: np.ndarray, value: np.ndarray, finite: np.ndarray) -> np.ndarray:
        """Sympson & Hetter (1985): the best item is given with probability :math:`K_j`; an item that
        loses the lottery is set aside for the rest of this examinee's test."""
        keep = self.rng.random(value.shape) < self.design.exposure_probability[None, :]
        passed = np.where(keep & finite, value, _NEG)
        best = np.argmax(passed, axis=1)
        none = ~np.isfinite(passed[np.arange(best.size), best])
        # nobody won the lottery: give the best item rather than stop the test
        best[none] = np.argmax(value[none], axis=1)
        best_value = value[np.arange(best.size), best]
        lost = finite & ~keep & (value > best_value[:, None])
        self.set_aside[rows] |= lost
        self.selected_count += lost.sum(axis=0)
        np.add.at(self.selected_count, best, 1.0)
        return best

    def record(self, rows: np.ndarray, items: np.ndarray, codes: np.ndarray) -> None:
        """Store the answers (category index, -1 for an omitted answer) and update the estimates."""
        d = self.design
        position = self.length[rows]
        self.items[rows, position] = items
        self.codes[rows, position] = codes
        self.administered[rows, items] = True
        if d.enemy_matrix is not None:
            self.blocked[rows] |= d.enemy_matrix[items]
        if d.area_names:
            np.add.at(self.area_count, (rows, d.item_area[items]), 1)
        answered = codes >= 0
        if answered.any():
            r, j, c = rows[answered], items[answered], codes[answered]
            self.log_post[r] += self.log_p[j, :, c]
            if self.classification is not None:
                self.sprt_loglik[r] += self.sprt_log_p[j, :, c]
        self.length[rows] += 1
        self._update_estimates(rows)
        self.theta_history[rows, position] = self.theta[rows]
        self.se_history[rows, position] = self.se[rows]
        self._check_stop(rows)

    def replay(self, items: np.ndarray, codes: np.ndarray) -> None:
        """Record the answers of examinee 0 all at once, as :meth:`record` one by one would.

        For resuming a stored session without a step per answer: the log-posterior is the
        running sum of the same rows in the same order (``np.cumsum`` adds sequentially, so it
        equals the repeated ``+=`` of :meth:`record`), the current estimate comes from
        :meth:`_update_estimates` on it, and the stopping rules are checked once, on the last
        position: a stored session that continued was not stopped before it.
        """
        n = items.size
        if n == 0:
            return
        d = self.design
        row = np.array([0])
        self.items[0, :n] = items
        self.codes[0, :n] = codes
        self.administered[0, items] = True
        if d.enemy_matrix is not None:
            self.blocked[0] |= d.enemy_matrix[items].any(axis=0)
        if d.area_names:
            np.add.at(self.area_count, (np.zeros(n, dtype=np.int64), d.item_area[items]), 1)
        answered = codes >= 0
        steps = np.zeros((n + 1, self.nodes.size))
        steps[0] = self.log_post[0]
        steps[1:][answered] = self.log_p[items[answered], :, codes[answered]]
        path = np.cumsum(steps, axis=0)[1:]                                                   # (n, Q)
        if self.classification is not None and answered.any():
            sprt = np.zeros((int(answered.sum()) + 1, 2))
            sprt[0] = self.sprt_loglik[0]
            sprt[1:] = self.sprt_log_p[items[answered], :, codes[answered]]
            self.sprt_loglik[0] = np.cumsum(sprt, axis=0)[-1]
        # interim estimates after each position, for the history
        post = np.exp(path - path.max(axis=1, keepdims=True))
        offset = self.nodes - self.prior_mean
        moments = post @ np.stack([np.ones_like(offset), offset, offset * offset], axis=1)
        mean = moments[:, 1] / moments[:, 0]
        self.theta_history[0, :n] = self.prior_mean + mean
        self.se_history[0, :n] = np.sqrt(np.maximum(moments[:, 2] / moments[:, 0] - mean * mean, 0.0))
        self.log_post[0] = path[-1]
        self.length[0] = n
        self._update_estimates(row)
        # the current estimate exactly as record() leaves it
        self.theta_history[0, n - 1] = self.theta[0]
        self.se_history[0, n - 1] = self.se[0]
        self._check_stop(row)

    def _check_stop(self, rows: np.ndarray) -> None:
        stop = self.design.stop
        n = self.length[rows]
        enough = n >= stop.min_items
        reason = np.full(rows.size, "", dtype=object)
        if self.classification is not None:
            decision = self._classify(rows)
            decided = enough & (decision != "")
            reason[decided] = "classification"
            self.classification[rows[decided]] = decision[decided]
        if stop.se is not None:
            reason[(reason == "") & enough & (self.se[rows] <= stop.se)] = "se"
        reason[(reason == "") & (n >= stop.max_items)] = "max_items"
        ended = reason != ""
        self.stop_reason[rows[ended]] = reason[ended]
        self.done[rows[ended]] = True
        if self.classification is not None:
            # at the end without a decision, the side of the cut the estimate is on
            open_ = rows[ended & (self.classification[rows] == "")]
            self.classification[open_] = np.where(self.theta[open_] >= stop.cut, "pass", "fail")

    def _classify(self, rows: np.ndarray) -> np.ndarray:
        stop = self.design.stop
        out = np.full(rows.size, "", dtype=object)
        if stop.classification == "ci":
            z = ndtri(1.0 - stop.alpha / 2.0)
            out[self.theta[rows] - z * self.se[rows] > stop.cut] = "pass"
            out[self.theta[rows] + z * self.se[rows] < stop.cut] = "fail"
        else:
            ratio = self.sprt_loglik[rows, 1] - self.sprt_loglik[rows, 0]
            out[ratio >= math.log((1.0 - stop.beta) / stop.alpha)] = "pass"
            out[ratio <= math.log(stop.beta / (1.0 - stop.alpha))] = "fail"
        return out

    def exhaust(self, rows: np.ndarray) -> None:
        """End the tests of examinees with no eligible item left."""
        self.done[rows] = True
        self.stop_reason[rows] = "exhausted"
        if self.classification is not None:
            undecided = rows[self.classification[rows] == ""]
            self.classification[undecided] = np.where(self.theta[undecided] >= self.design.stop.cut, "pass", "fail")

    def active(self) -> np.ndarray:
        return np.flatnonzero(~self.done)
