r"""4PL calibration against an independent maximizer of the marginal log-posterior.

The 4PL is weakly identified, so recovery of the generating parameters is a loose check. The
known answer here is exact instead: the maximum of the marginal log-posterior that
``calibrate`` claims to find. The test writes that function out itself, from the response
function alone (nothing from ``psychometrics.items``),

.. math::

    \log p(\xi \mid X) = \sum_i \log \sum_q w_q \prod_{j \in O_i}
        P_j(\theta_q)^{x_{ij}} (1 - P_j(\theta_q))^{1 - x_{ij}} + \sum_{j,k} \log p(\xi_{jk}),
    \qquad P_j(\theta) = g_j + \frac{u_j - g_j}{1 + \exp(-(a_j \theta + d_j))},

on calibrate's grid (61 equally spaced nodes on [-6, 6], weights proportional to the N(0, 1)
density and summing to one, see ``psychometrics/quadrature.py``), where ``O_i`` are the items
person ``i`` answered (missing responses drop out of the product), and maximizes it with
scipy's L-BFGS-B under box bounds from several starts (analytic gradient by Fisher's
identity, checked against finite differences below), then polishes the best end point with
Newton steps on a finite-difference Hessian until the gradient vanishes. The prior densities come from
``scipy.stats``; their normalizing constants only shift the objective and cancel in every
comparison made here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import expit
from threadpoolctl import threadpool_limits

from psychometrics.errors import DataWarning, ResponseError
from psychometrics.irt import calibrate

NODES = np.linspace(-6.0, 6.0, 61)
LOG_WEIGHTS = -0.5 * NODES ** 2 - np.logaddexp.reduce(-0.5 * NODES ** 2)
COLUMNS = ["a1", "d", "g", "u"]

# every prior kind calibrate knows, on every 4PL parameter
ALL_PRIORS = {"g": ("beta", 5, 17), "u": ("beta", 17, 5), "a1": ("lognormal", 0.2, 0.5),
              "d": ("normal", 0.0, 3.0)}
# the asymptotes only (slopes and intercepts flat)
ASYMPTOTE_PRIORS = {"g": ("beta", 5, 17), "u": ("beta", 17, 5)}

# box for L-BFGS-B: wide enough that no estimate here comes near it
BOUNDS = {"a1": (0.05, 10.0), "d": (-15.0, 15.0), "g": (1e-6, 0.6), "u": (0.4, 1.0 - 1e-6)}

# tolerances of the comparison (the EM stops at mirt's criterion, tol = 1e-4)
LOGPOST_TOL = 1e-3
SLOPE_INTERCEPT_TOL = 0.02
ASYMPTOTE_TOL = 0.01
LOGLIK_TOL = 1e-6


# ------------------------------------------------------------------------------------------------
# data and the independent objective
# ------------------------------------------------------------------------------------------------

def _simulate_4pl(n_persons: int, n_items: int, seed: int, missing: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Responses drawn from the 4PL with numpy alone; MCAR missingness at rate ``missing``."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(1.0, 2.2, n_items)
    b = rng.uniform(-1.2, 1.2, n_items)
    g = rng.uniform(0.10, 0.25, n_items)
    u = rng.uniform(0.85, 0.97, n_items)
    theta = rng.normal(size=n_persons)
    p = g + (u - g) * expit(a * (theta[:, None] - b))
    x = (rng.random(p.shape) < p).astype(np.float64)
    x[rng.random(p.shape) < missing] = np.nan
    items = [f"q{j + 1:02d}" for j in range(n_items)]
    persons = pd.Index([f"r{i + 1:05d}" for i in range(n_persons)], name="person")
    truth = pd.DataFrame({"a1": a, "d": -a * b, "g": g, "u": u}, index=items)
    return pd.DataFrame(x, index=persons, columns=items), truth


class _LogPosterior:
    """Marginal log-likelihood and log-posterior of 4PL parameters (items x [a1, d, g, u])."""

    def __init__(self, data: pd.DataFrame, priors: dict[str, tuple]) -> None:
        x = data.to_numpy(dtype=np.float64)
        # identical response patterns (missing included) enter once, with their frequency
        codes = np.where(np.isnan(x), 2, x).astype(np.int8)
        patterns, freq = np.unique(codes, axis=0, return_counts=True)
        self.ones = np.ascontiguousarray(patterns == 1, dtype=np.float64)
        self.zeros = np.ascontiguousarray(patterns == 0, dtype=np.float64)
        self.freq = freq.astype(np.float64)
        self.n_items = x.shape[1]
        self.priors = priors

    def loglik(self, par: np.ndarray) -> tuple[float, np.ndarray]:
        """Marginal log-likelihood and its gradient (Fisher's identity: posterior-expected
        complete-data score)."""
        a, d, g, u = (par[:, k, None] for k in range(4))
        sig = expit(a * NODES + d)
        p = g + (u - g) * sig                                            # items x nodes
        joint = self.ones @ np.log(p) + self.zeros @ np.log1p(-p) + LOG_WEIGHTS
        top = joint.max(axis=1, keepdims=True)
        scaled = np.exp(joint - top)
        total = scaled.sum(axis=1, keepdims=True)
        per_pattern = top[:, 0] + np.log(total[:, 0])
        posterior = scaled * (self.freq[:, None] / total)
        r1, r0 = self.ones.T @ posterior, self.zeros.T @ posterior     # expected counts
        w = r1 / p - r0 / (1.0 - p)
        dz = w * (u - g) * sig * (1.0 - sig)
        grad = np.column_stack([dz @ NODES, dz.sum(axis=1), (w * (1.0 - sig)).sum(axis=1),
                                (w * sig).sum(axis=1)])
        return float(self.freq @ per_pattern), grad

    def log_prior(self, par: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = 0.0, np.zeros_like(par)
        for k, name in enumerate(COLUMNS):
            if name not in self.priors:
                continue
            kind, p1, p2 = self.priors[name]
            x = par[:, k]
            if kind == "beta":
                value += stats.beta.logpdf(x, p1, p2).sum()
                grad[:, k] = (p1 - 1.0) / x - (p2 - 1.0) / (1.0 - x)
            elif kind == "lognormal":
                value += stats.lognorm.logpdf(x, p2, scale=np.exp(p1)).sum()
                grad[:, k] = -1.0 / x - (np.log(x) - p1) / (p2 * p2 * x)
            else:
                value += stats.norm.logpdf(x, p1, p2).sum()
                grad[:, k] = -(x - p1) / (p2 * p2)
        return float(value), grad

    def __call__(self, par: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g_ll = self.loglik(par)
        lp, g_lp = self.log_prior(par)
        return ll + lp, g_ll + g_lp

    def negative(self, flat: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = self(flat.reshape(self.n_items, 4))
        return -value, -grad.ravel()


@dataclass(frozen=True)
class _DirectFit:
    params: np.ndarray            # items x [a1, d, g, u]: the best start, Newton-polished
    log_posterior: float
    gradient: np.ndarray          # of the log-posterior at ``params``
    all_starts: tuple[float, ...]  # L-BFGS-B maximum reached from each start


def _newton_polish(objective: _LogPosterior, par: np.ndarray, max_steps: int = 4) -> np.ndarray:
    """Newton steps with a central-difference Hessian of the analytic gradient.

    Where the posterior is flat in a slope (an item with a steep curve and only asymptote
    priors) L-BFGS-B stops while that slope can still move by 0.02 at a log-posterior gain
    of 1e-5; Newton steps take the reference to the maximum itself.
    """
    x = par.ravel().copy()
    h = 1e-5
    value, grad = objective.negative(x)
    for _ in range(max_steps):
        hess = np.empty((x.size, x.size))
        for k in range(x.size):
            up, down = x.copy(), x.copy()
            up[k] += h
            down[k] -= h
            hess[k] = (objective.negative(up)[1] - objective.negative(down)[1]) / (2 * h)
        hess = 0.5 * (hess + hess.T)
        if np.linalg.eigvalsh(hess)[0] <= 0:
            break    # not a strict maximum: keep the L-BFGS-B point
        step = -np.linalg.solve(hess, grad)
        trial_value, trial_grad = objective.negative(x + step)
        if not trial_value <= value + 1e-9:
            break
        x, value, grad = x + step, trial_value, trial_grad
        if np.max(np.abs(step)) < 1e-9:
            break
    return x.reshape(par.shape)


def _direct_fit(objective: _LogPosterior, starts: list[np.ndarray]) -> _DirectFit:
    bounds = [BOUNDS[name] for name in COLUMNS] * objective.n_items
    results = []
    for start in starts:
        res = optimize.minimize(objective.negative, start.ravel(), jac=True, method="L-BFGS-B",
                                bounds=bounds, options={"maxiter": 5000, "ftol": 1e-12, "gtol": 1e-6})
        results.append(res)
    best = min(results, key=lambda r: r.fun)
    par = _newton_polish(objective, best.x.reshape(objective.n_items, 4))
    value, grad = objective(par)
    return _DirectFit(par, value, grad, tuple(-float(r.fun) for r in results))


def _starts(truth: pd.DataFrame, seed: int) -> list[np.ndarray]:
    """The generating values, a neutral start and a random one."""
    n = truth.shape[0]
    rng = np.random.default_rng(seed)
    neutral = np.tile([1.0, 0.0, 0.15, 0.9], (n, 1))
    random = np.column_stack([rng.uniform(0.7, 2.0, n), rng.uniform(-1.5, 1.5, n),
                              rng.uniform(0.05, 0.30, n), rng.uniform(0.80, 0.98, n)])
    return [truth[COLUMNS].to_numpy(), neutral, random]


# ------------------------------------------------------------------------------------------------
# one data set, two prior sets, each fitted once by both routes
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Case:
    data: pd.DataFrame
    truth: pd.DataFrame
    priors: dict
    objective: _LogPosterior
    direct: _DirectFit
    calibration: object


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame]:
    # 10 items, 3000 persons, 10% of responses missing completely at random
    return _simulate_4pl(3000, 10, seed=17, missing=0.10)


@pytest.fixture(scope="module", params=["all_priors", "asymptote_priors"])
def case(request, simulated) -> _Case:
    data, truth = simulated
    priors = ALL_PRIORS if request.param == "all_priors" else ASYMPTOTE_PRIORS
    objective = _LogPosterior(data, priors)
    # a multithreaded BLAS on busy shared cores makes these small products 10-100x slower
    with threadpool_limits(limits=1, user_api="blas"):
        direct = _direct_fit(objective, _starts(truth, seed=5))
    cal = calibrate(data, "4pl", priors=priors)
    return _Case(data, truth, priors, objective, direct, cal)


def _estimates(cal) -> np.ndarray:
    return cal.slope_intercept.loc[:, COLUMNS].to_numpy()


def test_reference_gradient_matches_finite_differences(simulated):
    # the direct maximum is only as good as the gradient L-BFGS-B is given
    data, truth = simulated
    objective = _LogPosterior(data, ALL_PRIORS)
    par = truth[COLUMNS].to_numpy()
    _, grad = objective(par)
    step = 1e-6
    for j, k in [(0, 0), (3, 1), (5, 2), (9, 3), (7, 0)]:
        up, down = par.copy(), par.copy()
        up[j, k] += step
        down[j, k] -= step
        numeric = (objective(up)[0] - objective(down)[0]) / (2 * step)
        assert grad[j, k] == pytest.approx(numeric, rel=1e-5, abs=1e-3)


def test_reference_is_an_interior_stationary_point_reached_from_every_start(case):
    # several starts of the direct maximizer end at one maximum (not an artefact of a start),
    # the polished point is inside the box and its gradient vanishes
    spread = max(case.direct.all_starts) - min(case.direct.all_starts)
    assert spread < 2e-4
    assert case.direct.log_posterior >= max(case.direct.all_starts) - 1e-9
    lower = np.array([BOUNDS[name][0] for name in COLUMNS])
    upper = np.array([BOUNDS[name][1] for name in COLUMNS])
    assert ((case.direct.params > lower + 1e-3) & (case.direct.params < upper - 1e-3)).all()
    assert np.max(np.abs(case.direct.gradient)) < 1e-4


def test_calibrate_converges(case):
    assert case.calibration.converged
    assert case.calibration.n_persons == 3000


def test_calibrate_reaches_the_direct_maximum_of_the_log_posterior(case):
    at_calibrate, _ = case.objective(_estimates(case.calibration))
    assert abs(at_calibrate - case.direct.log_posterior) < LOGPOST_TOL


def test_calibrate_parameters_equal_the_direct_maximizer(case):
    est = _estimates(case.calibration)
    ref = case.direct.params
    np.testing.assert_allclose(est[:, :2], ref[:, :2], atol=SLOPE_INTERCEPT_TOL, rtol=0)
    np.testing.assert_allclose(est[:, 2:], ref[:, 2:], atol=ASYMPTOTE_TOL, rtol=0)


def test_tight_tolerance_lands_on_the_maximum_itself(case):
    # at tol = 1e-7 the EM estimates equal the polished direct maximizer to 1e-5 (achieved:
    # 2e-6 on a, 3e-8 on g and u; log-posterior within 1e-10)
    cal = calibrate(case.data, "4pl", priors=case.priors, tol=1e-7)
    assert cal.converged
    at_calibrate, _ = case.objective(_estimates(cal))
    assert abs(at_calibrate - case.direct.log_posterior) < 1e-8
    np.testing.assert_allclose(_estimates(cal), case.direct.params, atol=1e-5, rtol=0)


def test_loglik_field_is_the_marginal_loglik_at_the_estimates(case):
    # the reported loglik is the likelihood without the prior, at the returned parameters
    direct_loglik, _ = case.objective.loglik(_estimates(case.calibration))
    assert abs(case.calibration.loglik - direct_loglik) < LOGLIK_TOL


def test_irt_form_is_consistent_with_slope_intercept(case):
    cal = case.calibration
    si, irt = cal.slope_intercept, cal.item_params
    np.testing.assert_allclose(irt["a"], si["a1"], rtol=1e-12)
    np.testing.assert_allclose(irt["b"], -si["d"] / si["a1"], rtol=1e-12)
    np.testing.assert_allclose(irt[["g", "u"]], si[["g", "u"]], rtol=1e-12)
    assert ((irt["g"] > 0) & (irt["g"] < irt["u"]) & (irt["u"] < 1)).all()


# ------------------------------------------------------------------------------------------------
# missing data
# ------------------------------------------------------------------------------------------------

def test_persons_without_responses_change_nothing(simulated):
    # an empty row contributes log sum_q w_q = 0 to the likelihood: calibrate drops it (with a
    # warning naming it) and returns the same estimates and log-likelihood
    data, _ = simulated
    empty = pd.DataFrame(np.nan, index=pd.Index(["e1", "e2"], name="person"), columns=data.columns)
    with pytest.warns(DataWarning, match="'e1', 'e2'"):
        padded = calibrate(pd.concat([data, empty]), "4pl", priors=ALL_PRIORS)
    plain = calibrate(data, "4pl", priors=ALL_PRIORS)
    assert padded.n_persons == plain.n_persons == 3000
    assert padded.loglik == pytest.approx(plain.loglik, abs=1e-9)
    np.testing.assert_allclose(_estimates(padded), _estimates(plain), atol=1e-9)


def test_missing_responses_are_absent_not_imputed(simulated):
    # filling the missing cells with 0 is a different likelihood; the calibration follows the
    # one in which they are absent (its loglik matches the direct function that skips them)
    data, _ = simulated
    cal = calibrate(data, "4pl", priors=ALL_PRIORS)
    absent, _ = _LogPosterior(data, ALL_PRIORS).loglik(_estimates(cal))
    zero_filled, _ = _LogPosterior(data.fillna(0.0), ALL_PRIORS).loglik(_estimates(cal))
    assert abs(cal.loglik - absent) < LOGLIK_TOL
    assert abs(cal.loglik - zero_filled) > 100.0


# ------------------------------------------------------------------------------------------------
# recovery at a larger N
# ------------------------------------------------------------------------------------------------

def test_recovery_100000_by_20_with_priors():
    # N = 1e5, 20 items, 10% missing, all four priors (about 2 s). Achieved with seed 23: RMSE
    # a 0.067, d 0.060, g 0.019, u 0.015, b 0.047 (seeds 24, 25: a 0.081 / 0.103, g 0.013 /
    # 0.018). At N = 2e4 x 10 items the slope RMSE is still 0.18-0.28: the 4PL needs large N.
    data, truth = _simulate_4pl(100_000, 20, seed=23, missing=0.10)
    cal = calibrate(data, "4pl", priors=ALL_PRIORS)
    assert cal.converged
    est = cal.slope_intercept[COLUMNS]
    rmse = np.sqrt(((est - truth) ** 2).mean())
    b_true = -truth["d"] / truth["a1"]
    rmse_b = float(np.sqrt(((cal.item_params["b"] - b_true) ** 2).mean()))
    assert rmse["a1"] < 0.12
    assert rmse["d"] < 0.10
    assert rmse["g"] < 0.03
    assert rmse["u"] < 0.03
    assert rmse_b < 0.08


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def small(simulated) -> pd.DataFrame:
    return simulated[0].iloc[:300, :4].copy()


@pytest.mark.parametrize("priors, message", [
    ({"g": ("beta", 0, 17)}, "not valid for a beta prior"),
    ({"u": ("beta", 17, -1)}, "not valid for a beta prior"),
    ({"a1": ("lognormal", 0.0, 0.0)}, "not valid for a lognormal prior"),
    ({"g": ("gamma", 2, 2)}, "kind one of"),
    ({"u": ("beta", 17)}, "must be \\(kind, p1, p2\\)"),
])
def test_bad_priors_raise(small, priors, message):
    with pytest.raises(ValueError, match=message):
        calibrate(small, "4pl", priors=priors)


def test_non_dichotomous_item_raises_naming_it(small):
    small.iloc[7, 2] = 2.0
    with pytest.raises(ResponseError, match="item 'q03'.*'4pl' needs 2 categories"):
        calibrate(small, "4pl")


def test_value_outside_the_declared_codes_raises(small):
    small.iloc[4, 1] = 0.5
    with pytest.raises(ResponseError, match="item 'q02'.*0.5"):
        calibrate(small, "4pl")
