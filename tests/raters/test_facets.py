"""Many-facet Rasch model: lme4 reference, exact derivatives, recovery, the one-rater case, input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.errors import ResponseError
from psychometrics.raters import facets
from psychometrics.raters._facets import _Facets, _prepare

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _simulate(rng, n_persons=200, n_items=4, n_raters=8, tau=(-1.5, -0.5, 0.4, 1.6), person_sd=1.2,
              partial=False):
    grid = pd.MultiIndex.from_product(
        [[f"t{p:03d}" for p in range(n_persons)], [f"i{j}" for j in range(n_items)],
         [f"r{j}" for j in range(n_raters)]], names=["target_id", "item", "rater_id"]).to_frame(index=False)
    theta = rng.normal(0.0, person_sd, n_persons)
    b = np.linspace(-1.0, 1.0, n_items)
    s = np.linspace(-0.8, 0.8, n_raters)
    s -= s.mean()
    steps = np.tile(np.asarray(tau), (n_items, 1))
    if partial:
        steps = steps + rng.normal(0.0, 0.3, steps.shape)
        steps -= steps.mean(axis=1, keepdims=True)
    p = grid.target_id.str[1:].astype(int).to_numpy()
    i = grid.item.str[1:].astype(int).to_numpy()
    r = grid.rater_id.str[1:].astype(int).to_numpy()
    eta = theta[p] - b[i] - s[r]
    k = steps.shape[1] + 1
    cum = np.concatenate([np.zeros((n_items, 1)), np.cumsum(steps, axis=1)], axis=1)
    z = eta[:, None] * np.arange(k) - cum[i]
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    grid["rating"] = (rng.random(len(grid))[:, None] > prob.cumsum(axis=1)).sum(axis=1) + 1
    return grid, b, s


def _reference(name: str) -> dict[str, float]:
    lines = (REFERENCE / name).read_text().splitlines()
    return {key: float(value) for key, value in (line.split() for line in lines if line.strip())}


def test_dichotomous_facets_equal_lme4_glmer():
    # lme4 1.1 glmer(y ~ 0 + item + rater + (1 | person), family = binomial, nAGQ = 25):
    # tests/reference/facets_glmer.R on facets_binary.csv (each person rated by 3 of 4 raters)
    data = pd.read_csv(REFERENCE / "facets_binary.csv")
    ref = _reference("facets_glmer.out")
    fit = facets(data, person="person", item="item", rater="rater", rating="y", model="dichotomous")
    assert fit.converged
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-3)
    assert fit.person_sd == pytest.approx(ref["person_sd"], abs=1e-3)
    # glmer: logit = beta_item + gamma_rater (gamma_ra = 0) + u; here theta - b - s with sum(s) = 0
    beta = np.array([ref[f"itemi{j}"] for j in range(1, 7)])
    gamma = np.array([0.0] + [ref[f"rater{r}"] for r in ("rb", "rc", "rd")])
    np.testing.assert_allclose(fit.item_params["b"].to_numpy(), -(beta + gamma.mean()), atol=1e-3)
    np.testing.assert_allclose(fit.rater_severity["severity"].to_numpy(), -(gamma - gamma.mean()), atol=1e-3)
    assert fit.rater_severity["severity"].sum() == pytest.approx(0.0, abs=1e-10)
    assert list(fit.rater_severity.index) == ["ra", "rb", "rc", "rd"]
    assert fit.item_params["n"].sum() == len(data) == fit.person_measures["n"].sum()
    assert fit.n_parameters == 6 + 3 + 1
    assert (fit.rater_severity["se"].between(0.05, 0.2)).all()


@pytest.mark.parametrize("model", ["rating_scale", "partial_credit"])
def test_gradient_and_hessian_are_exact(rng, model):
    data, _, _ = _simulate(rng, n_persons=12, n_items=3, n_raters=3)
    p, i, r, x, persons, items, raters, codes = _prepare(data, "target_id", "item", "rater_id", "rating", model)
    problem = _Facets(p, i, r, x, len(persons), len(items), len(raters), len(codes), model, 41)
    raw = problem.jac @ (problem.start() + rng.normal(0.0, 0.2, problem.jac.shape[1]))
    _, grad, hess, _ = problem.derivatives(raw)
    eps = 1e-5
    basis = np.eye(len(raw))
    numeric_grad = [(problem.loglik(raw + eps * e) - problem.loglik(raw - eps * e)) / (2 * eps) for e in basis]
    numeric_hess = [(problem.derivatives(raw + eps * e)[1] - problem.derivatives(raw - eps * e)[1]) / (2 * eps)
                     for e in basis]
    np.testing.assert_allclose(grad, numeric_grad, atol=1e-6)
    np.testing.assert_allclose(hess, np.array(numeric_hess), atol=1e-5)


@pytest.mark.parametrize("model", ["rating_scale", "partial_credit"])
def test_recovers_simulated_rater_severities(rng, model):
    data, b, s = _simulate(rng, partial=model == "partial_credit")
    fit = facets(data, model=model)
    assert fit.converged
    rmse = float(np.sqrt(np.mean((fit.rater_severity["severity"].to_numpy() - s) ** 2)))
    assert rmse < 0.1
    # the items' overall location carries the sample's mean theta (person mean fixed at 0): compare centred
    located = fit.item_params["b"].to_numpy()
    assert float(np.sqrt(np.mean((located - located.mean() - b) ** 2))) < 0.1
    assert fit.person_sd == pytest.approx(1.2, abs=0.2)
    # the SEs describe the sampling error: standardized errors of the severities are of order 1
    assert np.all(np.abs(fit.rater_severity["severity"].to_numpy() - s) < 4 * fit.rater_severity["se"].to_numpy())
    # data from the model fit it
    assert fit.rater_severity[["infit", "outfit"]].stack().between(0.8, 1.2).all()
    assert fit.separation.loc["rater", "reliability"] > 0.95
    frame = fit.to_frame()
    assert set(frame.facet) == {"person", "item", "rater"} and len(frame) == 200 + 4 + 8
    assert "rater" in fit.summary()


def test_one_rater_equals_unidimensional_rating_scale_calibration(rng):
    data, _, _ = _simulate(rng, n_persons=400, n_items=5, n_raters=1, person_sd=1.3)
    data.loc[7, "rating"] = np.nan  # a missing rating is left out by both
    wide = data.pivot(index="target_id", columns="item", values="rating")
    cal = irt.calibrate(wide, model="rsm", tol=1e-5, max_iter=3000)
    fit = facets(data, model="rating_scale")
    assert fit.loglik == pytest.approx(cal.loglik, abs=1e-3)
    assert fit.person_sd ** 2 == pytest.approx(cal.latent_variance, abs=1e-3)
    # mirt's rsm: z_k = k theta - sum_{j<=k} b_j + k c_i; Andrich: delta_i = mean(b) - c_i, tau_j = b_j - mean(b)
    thresholds = cal.item_params[["b1", "b2", "b3", "b4"]].iloc[0].to_numpy()
    np.testing.assert_allclose(fit.item_params["b"].to_numpy(),
                               thresholds.mean() - cal.item_params["c"].to_numpy(), atol=1e-3)
    np.testing.assert_allclose(fit.item_params[["tau1", "tau2", "tau3", "tau4"]].iloc[0].to_numpy(),
                               thresholds - thresholds.mean(), atol=1e-3)
    assert fit.rater_severity["severity"].tolist() == [0.0]


def test_missing_ratings_are_left_out_not_imputed(rng):
    data, _, _ = _simulate(rng, n_persons=60, n_items=3, n_raters=3)
    holes = data.copy()
    holes.loc[[3, 10, 50], "rating"] = np.nan
    assert facets(holes).loglik == pytest.approx(facets(data.drop(index=[3, 10, 50])).loglik, abs=1e-9)


def test_input_errors_name_the_row_and_what_to_do(rng):
    data, _, _ = _simulate(rng, n_persons=20, n_items=2, n_raters=2)
    with pytest.raises(ResponseError, match="rows 0 and .* both rate person 't000'"):
        facets(pd.concat([data, data.iloc[[0]]], ignore_index=True))
    odd = data.astype({"rating": float})
    odd.loc[5, "rating"] = 2.5
    with pytest.raises(ResponseError, match="row 5 .*2.5 is not an integer"):
        facets(odd)
    with pytest.raises(ResponseError, match="not 0 or 1"):
        facets(data, model="dichotomous")
    gap = data[data.rating != 3]
    with pytest.raises(ResponseError, match="category 3 is never used"):
        facets(gap)
    with pytest.raises(ResponseError, match="column 'score' given as rating="):
        facets(data, rating="score")
    lenient = data.copy()
    lenient.loc[lenient.rater_id == "r1", "rating"] = 5
    with pytest.raises(ResponseError, match="rater 'r1' gives only the extreme category 5 .* infinite"):
        facets(lenient)
    with pytest.raises(ValueError, match="model must be one of"):
        facets(data, model="graded")
