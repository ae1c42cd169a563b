"""Shared helpers of the item-model tests: finite-difference checks, simulation, the
Science data fits (mirt's reference), as factory fixtures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from psychometrics.irt import calibrate
from psychometrics.items import get_model

# default node grid of the derivative and information checks
NODES = np.linspace(-6.0, 6.0, 31)
SCIENCE_ITEMS = ["Comfort", "Work", "Future", "Benefit"]


def _finite_difference_check(model, params, rng, *, theta=NODES, eps=1e-5):
    """Largest relative error of the analytic gradient and Hessian against central differences
    of ``model.objective`` (gradient) and of the analytic gradient (Hessian)."""
    n_items, n_par = params.shape
    n_cat = model.probabilities(params, theta).shape[-1]
    counts = rng.uniform(0.0, 20.0, size=(n_items, theta.size, n_cat))
    grad, hess = model.gradient_hessian(params, theta, counts)
    num_grad = np.empty_like(grad)
    num_hess = np.empty_like(hess)
    for p in range(n_par):
        step = np.zeros(n_par)
        step[p] = eps
        up, down = params + step, params - step
        num_grad[:, p] = (model.objective(up, theta, counts) - model.objective(down, theta, counts)) / (2 * eps)
        num_hess[:, :, p] = (model.gradient_hessian(up, theta, counts)[0]
                             - model.gradient_hessian(down, theta, counts)[0]) / (2 * eps)
    grad_err = np.abs(grad - num_grad).max() / max(np.abs(grad).max(), 1.0)
    hess_err = np.abs(hess - num_hess).max() / max(np.abs(hess).max(), 1.0)
    return grad_err, hess_err, hess


def _information_identity(model, params, theta=NODES, h=1e-5):
    """sum_k (dP_k/dtheta)^2 / P_k with dP/dtheta by central differences."""
    dp = (model.probabilities(params, theta + h) - model.probabilities(params, theta - h)) / (2 * h)
    return (dp * dp / model.probabilities(params, theta)).sum(axis=-1)


def _random_params(model, n_categories, n_items, rng, scale=0.4):
    params = model.start_values(n_categories, n_items)
    params = params + rng.normal(0.0, scale, size=params.shape)
    for name, value in model.fixed_values.items():
        params[:, model.parameter_names(n_categories).index(name)] = value
    return params


def _simulate_responses(model, params, n_persons, rng, *, latent_sd=1.0, missing=0.0):
    """Responses (persons x items, float, NaN missing) and the generating theta."""
    theta = rng.normal(0.0, latent_sd, size=n_persons)
    prob = model.probabilities(params, theta)  # (n_items, N, K)
    cum = np.cumsum(prob, axis=-1)
    draws = rng.uniform(size=prob.shape[:2])[..., None]
    x = (draws > cum[..., :-1]).sum(axis=-1).T.astype(np.float64)
    if missing:
        drop = rng.uniform(size=x.shape) < missing
        # keep one response of anyone who would otherwise have none (those are left out of a
        # calibration with a warning, which is not what these tests are about)
        empty = np.flatnonzero(drop.all(axis=1))
        drop[empty, rng.integers(0, x.shape[1], empty.size)] = False
        x[drop] = np.nan
    return x, theta


def _science_m_step(shared_data, model, item4_params, graded_params):
    """Re-estimate Science item 4 (``Benefit``) by the M-step at mirt's estimates.

    The E-step (61 nodes on [-6, 6], N(0, 1) weights, mirt's default) runs at mirt's estimates
    of all four items; the item-4 M-step (Newton to convergence with those expected counts)
    must return mirt's item-4 estimates, since an MLE is a fixed point of the EM map. This
    checks the model's probabilities and derivatives against mirt without an EM loop.
    """
    x = pd.read_csv(shared_data / "Science.csv").to_numpy() - 1  # codes 1-4 -> 0-3
    nodes = np.linspace(-6.0, 6.0, 61)
    log_w = -0.5 * nodes**2
    log_w -= np.logaddexp.reduce(log_w)
    logp = np.concatenate([get_model("graded").log_probabilities(graded_params, nodes),
                           model.log_probabilities(item4_params, nodes)])
    person = sum(logp[j][:, x[:, j]].T for j in range(4)) + log_w  # (N, Q)
    post = np.exp(person - np.logaddexp.reduce(person, axis=1, keepdims=True))
    counts = (post.T @ (x[:, 3][:, None] == np.arange(4)))[None]  # (1, Q, K)
    params = np.array(item4_params, dtype=np.float64)
    for _ in range(50):
        grad, hess = model.gradient_hessian(params, nodes, counts)
        step = np.linalg.solve(hess[0], grad[0])
        params = params - step
        if np.abs(step).max() < 1e-10:
            break
    return params[0]


def _science_fit(shared_data, last_model):
    x = pd.read_csv(shared_data / "Science.csv")
    models = dict(zip(SCIENCE_ITEMS, ["graded", "graded", "graded", last_model]))
    cal = calibrate(x, model=models)
    names = get_model(last_model).parameter_names(4)
    si = cal.slope_intercept
    values = [si.loc[i, ["a1", "d1", "d2", "d3"]].to_numpy() for i in SCIENCE_ITEMS[:3]]
    return cal, np.concatenate(values + [si.loc["Benefit", names].to_numpy()])


def _item_frame(x):
    return pd.DataFrame(x, columns=[f"i{j + 1:02d}" for j in range(x.shape[1])])


def _rmse(estimate, truth):
    return float(np.sqrt(np.mean((np.asarray(estimate) - np.asarray(truth)) ** 2)))


def _numeric_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.empty_like(x)
    for p in range(x.shape[1]):
        up, down = x.copy(), x.copy()
        up[:, p] += h
        down[:, p] -= h
        out[:, p] = (f(up) - f(down)) / (2 * h)
    return out


@pytest.fixture(scope="session")
def finite_difference_check() -> Callable[..., Any]:
    """``finite_difference_check(model, params, rng, theta=, eps=)``: largest relative errors of the
    analytic gradient and Hessian, and the Hessian."""
    return _finite_difference_check


@pytest.fixture(scope="session")
def information_identity() -> Callable[..., Any]:
    """``information_identity(model, params, theta=)``: sum_k (dP_k/dtheta)^2 / P_k numerically."""
    return _information_identity


@pytest.fixture(scope="session")
def random_params() -> Callable[..., Any]:
    """``random_params(model, n_categories, n_items, rng, scale=)``: start values plus noise."""
    return _random_params


@pytest.fixture(scope="session")
def simulate_responses() -> Callable[..., Any]:
    """``simulate_responses(model, params, n_persons, rng, latent_sd=, missing=)``: (x, theta)."""
    return _simulate_responses


@pytest.fixture(scope="session")
def science_m_step() -> Callable[..., Any]:
    """``science_m_step(shared_data, model, item4_params, graded_params)``: item 4 M-step."""
    return _science_m_step


@pytest.fixture(scope="session")
def science_fit() -> Callable[..., Any]:
    """``science_fit(shared_data, last_model)``: calibration of Science and its slope-intercepts."""
    return _science_fit


@pytest.fixture(scope="session")
def item_frame() -> Callable[..., Any]:
    """``item_frame(x)``: a response DataFrame with item ids i01, i02, ..."""
    return _item_frame


@pytest.fixture(scope="session")
def rmse() -> Callable[..., Any]:
    """``rmse(estimate, truth)``: root mean squared error."""
    return _rmse


@pytest.fixture(scope="session")
def numeric_gradient() -> Callable[..., Any]:
    """``numeric_gradient(f, x, h=)``: central differences of ``f`` per column of ``x``."""
    return _numeric_gradient
