"""Graded response model: probabilities, analytic derivatives, information, parameterizations."""

from __future__ import annotations

import numpy as np
import pytest

from psychometrics.items import get_model

THETA = np.linspace(-6.0, 6.0, 61)


def _params(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    d = -np.sort(rng.normal(0.0, 1.5, size=(n, k - 1)), axis=1) + np.linspace(0.3, -0.3, k - 1)
    return np.column_stack([rng.uniform(0.5, 2.5, n), d])


@pytest.mark.parametrize("k", [2, 3, 5, 7])
def test_probabilities_are_differences_of_cumulative_logistics(k, rng):
    model = get_model("graded")
    params = _params(rng, 4, k)
    prob = model.probabilities(params, THETA)
    np.testing.assert_allclose(prob.sum(axis=2), 1.0, atol=1e-12)
    star = 1 / (1 + np.exp(-(params[:, :1, None] * THETA[None, :, None] + params[:, None, 1:])))
    star = np.concatenate([np.ones(star.shape[:2] + (1,)), star, np.zeros(star.shape[:2] + (1,))], axis=2)
    np.testing.assert_allclose(prob, star[:, :, :-1] - star[:, :, 1:], atol=1e-14)
    assert model.parameter_names(k) == ["a1"] + [f"d{i}" for i in range(1, k)]
    assert model.irt_parameter_names(k) == ["a"] + [f"b{i}" for i in range(1, k)]


def test_log_probabilities_accurate_in_the_tails():
    # middle category far in the tail: plain differences of cumulative probabilities cancel
    model = get_model("graded")
    params = np.array([[2.0, 30.0, 29.0]])
    logp = model.log_probabilities(params, np.array([-6.0]))[0, 0]
    expected_mid = np.log(1 / (1 + np.exp(17.0)) - 1 / (1 + np.exp(18.0)))  # = P*(18) - P*(17), no cancellation
    assert np.isfinite(logp).all()
    np.testing.assert_allclose(logp[1], expected_mid, rtol=1e-12)
    # the naive difference loses about 7 digits here
    naive = np.log(1 / (1 + np.exp(-18.0)) - 1 / (1 + np.exp(-17.0)))
    assert abs(naive - expected_mid) > abs(logp[1] - expected_mid)


def test_disordered_intercepts_are_outside_the_domain():
    model = get_model("graded")
    params = np.array([[1.0, -0.5, 0.5]])
    logp = model.log_probabilities(params, THETA)
    assert not np.isnan(logp).any()
    assert np.all(logp[:, :, 1] == -np.inf)


@pytest.mark.parametrize("k", [2, 4, 5])
def test_gradient_and_hessian_match_finite_differences(k, rng, numeric_gradient):
    model = get_model("graded")
    params = _params(rng, 3, k)
    counts = rng.gamma(2.0, 3.0, size=(3, THETA.size, k))
    grad, hess = model.gradient_hessian(params, THETA, counts)
    num_grad = numeric_gradient(lambda p: model.objective(p, THETA, counts), params)
    np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-5)
    for p in range(params.shape[1]):
        num_h = numeric_gradient(lambda x: model.gradient_hessian(x, THETA, counts)[0][:, p], params)
        np.testing.assert_allclose(hess[:, p, :], num_h, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("k", [2, 3, 6])
def test_information_equals_fisher_identity(k, rng):
    model = get_model("graded")
    params = _params(rng, 3, k)
    theta = np.linspace(-4, 4, 17)
    h = 1e-5
    dp = (model.probabilities(params, theta + h) - model.probabilities(params, theta - h)) / (2 * h)
    expected = (dp ** 2 / model.probabilities(params, theta)).sum(axis=2)
    np.testing.assert_allclose(model.information(params, theta), expected, rtol=1e-6, atol=1e-10)


def test_two_categories_equal_the_2pl(rng):
    graded, two_pl = get_model("graded"), get_model("2pl")
    params = _params(rng, 5, 2)
    np.testing.assert_allclose(graded.probabilities(params, THETA), two_pl.probabilities(params, THETA),
                               atol=1e-14)
    np.testing.assert_allclose(graded.information(params, THETA), two_pl.information(params, THETA),
                               rtol=1e-10)


def test_irt_round_trip(rng):
    model = get_model("graded")
    params = _params(rng, 6, 5)
    irt = model.to_irt(params)
    np.testing.assert_allclose(irt[:, 1:], -params[:, 1:] / params[:, :1])
    np.testing.assert_allclose(model.from_irt(irt), params, rtol=1e-13, atol=1e-13)


def test_data_start_values_are_ordered():
    model = get_model("graded")
    props = np.array([[0.0, 0.2, 0.3, 0.5, 0.0], [0.1, 0.2, 0.4, 0.2, 0.1]])
    start = model.data_start_values(5, props)
    assert np.all(np.diff(start[:, 1:], axis=1) < 0)
    assert np.isfinite(model.log_probabilities(start, THETA)).all()
