"""Dichotomous models: probabilities, analytic derivatives, information, parameterizations."""

from __future__ import annotations

import numpy as np
import pytest

from psychometrics.items import MODELS, get_model

THETA = np.linspace(-6.0, 6.0, 61)
DICHOTOMOUS = ["rasch", "1pl", "2pl", "3pl", "4pl"]


def _params(name: str, rng: np.random.Generator, n: int = 4) -> np.ndarray:
    model = get_model(name)
    cols = {"a1": rng.uniform(0.5, 2.0, n), "d": rng.normal(0, 1.5, n),
            "g": rng.uniform(0.05, 0.3, n), "u": rng.uniform(0.8, 0.97, n)}
    out = np.column_stack([cols[c] for c in model.parameter_names(2)])
    if "a1" in model.fixed_values:
        out[:, 0] = 1.0
    return out


def _counts(rng: np.random.Generator, n: int, k: int = 2) -> np.ndarray:
    return rng.gamma(2.0, 3.0, size=(n, THETA.size, k))


def test_registry_has_dichotomous_models():
    for name in DICHOTOMOUS:
        assert MODELS[name].name == name
    with pytest.raises(ValueError, match="unknown item model 'xyz'"):
        get_model("xyz")


@pytest.mark.parametrize("name", DICHOTOMOUS)
def test_probabilities_sum_to_one_and_match_formula(name, rng):
    model = get_model(name)
    params = _params(name, rng)
    prob = model.probabilities(params, THETA)
    np.testing.assert_allclose(prob.sum(axis=2), 1.0, atol=1e-12)
    full = {n: params[:, i] for i, n in enumerate(model.parameter_names(2))}
    a, d = full.get("a1", np.ones(4)), full["d"]
    g, u = full.get("g", np.zeros(4)), full.get("u", np.ones(4))
    expected = g[:, None] + (u - g)[:, None] / (1 + np.exp(-(a[:, None] * THETA + d[:, None])))
    np.testing.assert_allclose(prob[:, :, 1], expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", DICHOTOMOUS)
def test_gradient_and_hessian_match_finite_differences(name, rng, numeric_gradient):
    model = get_model(name)
    params = _params(name, rng)
    counts = _counts(rng, params.shape[0])
    grad, hess = model.gradient_hessian(params, THETA, counts)
    num_grad = numeric_gradient(lambda p: model.objective(p, THETA, counts), params)
    np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-5)
    for p in range(params.shape[1]):
        num_h = numeric_gradient(lambda x: model.gradient_hessian(x, THETA, counts)[0][:, p], params)
        np.testing.assert_allclose(hess[:, p, :], num_h, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(hess, hess.transpose(0, 2, 1), atol=1e-10)


@pytest.mark.parametrize("name", DICHOTOMOUS)
def test_information_equals_fisher_identity(name, rng):
    # I(theta) = sum_k (dP_k/dtheta)^2 / P_k, with the theta-derivative by central differences
    model = get_model(name)
    params = _params(name, rng)
    theta = np.linspace(-4, 4, 17)
    h = 1e-5
    dp = (model.probabilities(params, theta + h) - model.probabilities(params, theta - h)) / (2 * h)
    expected = (dp ** 2 / model.probabilities(params, theta)).sum(axis=2)
    np.testing.assert_allclose(model.information(params, theta), expected, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("name", DICHOTOMOUS)
def test_irt_slope_intercept_round_trip(name, rng):
    model = get_model(name)
    params = _params(name, rng)
    irt = model.to_irt(params)
    np.testing.assert_allclose(model.from_irt(irt), params, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(irt[:, 1], -params[:, 1] / params[:, 0])
    assert model.irt_parameter_names(2)[:2] == ["a", "b"]


def test_two_pl_information_closed_form(rng):
    model = get_model("2pl")
    params = _params("2pl", rng)
    p = model.probabilities(params, THETA)[:, :, 1]
    np.testing.assert_allclose(model.information(params, THETA), params[:, :1] ** 2 * p * (1 - p), rtol=1e-12)


def test_three_pl_information_closed_form(rng):
    # Birnbaum: I = a^2 (P - g)^2 (1 - P) / ((1 - g)^2 P)
    model = get_model("3pl")
    params = _params("3pl", rng)
    a, g = params[:, :1], params[:, 2:3]
    p = model.probabilities(params, THETA)[:, :, 1]
    expected = a ** 2 * (p - g) ** 2 * (1 - p) / ((1 - g) ** 2 * p)
    np.testing.assert_allclose(model.information(params, THETA), expected, rtol=1e-10)


def test_extreme_parameters_stay_finite():
    model = get_model("3pl")
    params = np.array([[40.0, -200.0, 0.0], [3.0, 5.0, 1e-12]])
    logp = model.log_probabilities(params, THETA)
    assert np.all(np.isfinite(logp)) or np.all(logp[np.isnan(logp)] == -np.inf)
    assert not np.isnan(logp).any()
    grad, hess = model.gradient_hessian(params, THETA, np.ones((2, THETA.size, 2)))
    assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))


def test_out_of_domain_gives_minus_inf_not_nan():
    model = get_model("4pl")
    params = np.array([[1.0, 0.0, 0.6, 0.4]])   # g > u
    assert np.all(model.log_probabilities(params, THETA) == -np.inf)
    assert model.objective(params, THETA, np.ones((1, THETA.size, 2)))[0] == -np.inf


def test_category_count_is_checked():
    with pytest.raises(ValueError, match="needs 2 categories, got 3"):
        get_model("2pl").check_categories(3)


def test_fixed_and_tied_declarations():
    assert get_model("rasch").fixed_values == {"a1": 1.0}
    assert get_model("rasch").estimates_latent_variance
    assert list(get_model("rasch").free_mask(2)) == [False, True]
    assert get_model("1pl").tied == ("a1",)
