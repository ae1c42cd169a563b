"""Tests of psychometrics/items/nominal.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from psychometrics.irt import calibrate
from psychometrics.items import MODELS, get_model
from psychometrics.items.nominal import NominalModel

# the grid of the R reference (tests/reference/partial_credit_nominal.R) and of the derivative checks
THETA = np.array([-2.0, -0.5, 0.0, 1.0, 2.5])
NODES = np.linspace(-6.0, 6.0, 31)

# tests/reference/partial_credit_nominal.R, a1 = 0.9, ak = (0, 0.7, 2.1, 3), d = (0, 1.2, 0.4, -0.9)
R_NOMINAL_P = np.array([
    [0.505651082394720, 0.476204255767834, 0.017216132339335, 0.000928529498111],
    [0.243414102874966, 0.589788571933501, 0.141141667501089, 0.025655657690443],
    [0.160810193140143, 0.533908643593121, 0.239900617758928, 0.065380545507808],
    [0.043180742168941, 0.269183852512157, 0.426407137945099, 0.261228267373803],
    [0.001878120676655, 0.030122476985698, 0.315851332715041, 0.652148069622606],
])
R_NOMINAL_I = np.array([0.145010878200, 0.424598539782, 0.611741792177, 0.709234307647,
                        0.245493726552])
R_PARAMS = np.array([[0.9, 0.7, 2.1, 1.2, 0.4, -0.9]])


def test_registered_with_mirt_names():
    assert isinstance(MODELS["nominal"], NominalModel)
    model = get_model("nominal")
    assert model.parameter_names(4) == ["a1", "ak1", "ak2", "d1", "d2", "d3"]
    assert model.irt_parameter_names(4) == ["a1", "a2", "a3", "a4", "c1", "c2", "c3", "c4"]
    assert model.parameter_names(2) == ["a1", "d1"]
    assert model.n_parameters(5) == 8
    assert not model.estimates_latent_variance and not model.fixed_values


def test_matches_r_reference():
    model = get_model("nominal")
    np.testing.assert_allclose(model.probabilities(R_PARAMS, THETA)[0], R_NOMINAL_P, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.information(R_PARAMS, THETA)[0], R_NOMINAL_I, rtol=1e-8)


def test_identification_constraints_as_mirt():
    # ak_0 = 0, ak_{K-1} = K-1, d_0 = 0: category 0 has z = 0, the last has z = (K-1) a theta + d
    model = get_model("nominal")
    params = np.array([[1.7, 0.3, -2.0, 0.5, 1.0, 2.0]])
    theta = np.array([0.0, 1.0])
    z = np.log(model.probabilities(params, theta))[0]
    z -= z[:, :1]
    np.testing.assert_allclose(z[0], [0.0, 0.5, 1.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(z[1] - z[0], 1.7 * np.array([0.0, 0.3, -2.0, 3.0]), atol=1e-12)


def test_m_step_reproduces_mirt_science_estimates(shared_data, science_m_step):
    # mirt's tests/testthat/test-02-mirtTwo.R (modp4): mirt(Science, 1, itemtype =
    # c(rep('graded', 3), 'nominal')) pins graded items 1-3 and nominal item 4
    # a1 = 0.7986, ak = (0, 1.0782, 1.7756, 3), d = (0, 2.1964, 2.9637, 1.6742)
    graded = np.array([[1.0408, 4.862, 2.6387, -1.4664], [1.2063, 2.9083, 0.8958, -2.254],
                       [2.3376, 5.2972, 2.2404, -1.9886]])
    mirt_item4 = np.array([0.7986, 1.0782, 1.7756, 2.1964, 2.9637, 1.6742])
    got = science_m_step(shared_data, get_model("nominal"), mirt_item4[None], graded)
    np.testing.assert_allclose(got, mirt_item4, atol=5e-3)


def test_ordered_scoring_is_the_gpcm(random_params):
    rng = np.random.default_rng(2)
    gpcm_params = random_params(get_model("gpcm"), 5, 4, rng)
    nominal_params = np.column_stack([gpcm_params[:, 0], np.tile([1.0, 2.0, 3.0], (4, 1)),
                                      gpcm_params[:, 1:]])
    nominal, gpcm = get_model("nominal"), get_model("gpcm")
    np.testing.assert_allclose(nominal.probabilities(nominal_params, NODES),
                               gpcm.probabilities(gpcm_params, NODES), atol=1e-12)
    np.testing.assert_allclose(nominal.information(nominal_params, NODES),
                               gpcm.information(gpcm_params, NODES), atol=1e-12)
    # the gradient of the shared parameters (a1, d) agrees; ak gets its own
    counts = rng.uniform(0, 9, (4, NODES.size, 5))
    g_nom, h_nom = nominal.gradient_hessian(nominal_params, NODES, counts)
    g_gp, h_gp = gpcm.gradient_hessian(gpcm_params, NODES, counts)
    keep = [0, 4, 5, 6, 7]
    np.testing.assert_allclose(g_nom[:, keep], g_gp, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(h_nom[:, keep][:, :, keep], h_gp, rtol=1e-10, atol=1e-9)


def test_two_categories_is_the_2pl():
    ad = np.array([[1.2, -0.4], [0.6, 1.1]])
    np.testing.assert_allclose(get_model("nominal").log_probabilities(ad, NODES),
                               get_model("2pl").log_probabilities(ad, NODES), atol=1e-12)


@pytest.mark.parametrize("n_categories", [2, 3, 4, 6, 12])
def test_gradient_hessian_match_finite_differences(n_categories, finite_difference_check, random_params):
    rng = np.random.default_rng(40 + n_categories)
    model = get_model("nominal")
    params = random_params(model, n_categories, 4, rng)
    grad_err, hess_err, hess = finite_difference_check(model, params, rng)
    assert grad_err < 1e-7
    assert hess_err < 1e-6
    np.testing.assert_allclose(hess, hess.transpose(0, 2, 1), atol=1e-9)


@pytest.mark.parametrize("n_categories", [2, 3, 5, 40])
def test_sparse_derivatives_equal_the_divide_by_total_formulas(n_categories, random_params):
    # NominalModel.gradient_hessian writes out the sparsity of J; the shared dense formulas
    # (DivideByTotalModel.gradient_hessian, checked against finite differences for the gpcm,
    # pcm, rsm) must give the same numbers, with unordered scores and some empty nodes
    from psychometrics.items.partial_credit import DivideByTotalModel

    rng = np.random.default_rng(70 + n_categories)
    model = get_model("nominal")
    params = random_params(model, n_categories, 3, rng, scale=0.8)
    counts = rng.uniform(0, 6, (3, NODES.size, n_categories))
    counts[1, :8] = 0.0
    grad, hess = model.gradient_hessian(params, NODES, counts)
    dense_grad, dense_hess = DivideByTotalModel.gradient_hessian(model, params, NODES, counts)
    np.testing.assert_allclose(grad, dense_grad, rtol=1e-11, atol=1e-9 * np.abs(dense_grad).max())
    np.testing.assert_allclose(hess, dense_hess, rtol=1e-11, atol=1e-11 * np.abs(dense_hess).max())


def test_default_prior_only_for_many_categories():
    # sparse sliders: ak_k ~ N(k, 1) above 10 categories (module docstring); none up to 10,
    # so that calibrations of ordinary items stay mirt's (no priors)
    model = get_model("nominal")
    assert model.default_priors(4) == {} and model.default_priors(10) == {}
    priors = model.default_priors(11)
    assert list(priors) == [f"ak{k}" for k in range(1, 10)]
    assert priors["ak3"] == ("normal", 3.0, 1.0)
    assert set(model.parameter_names(11)) >= set(priors)
    assert get_model("gpcm").default_priors(101) == {}


def test_information_identity(information_identity, random_params):
    rng = np.random.default_rng(8)
    model = get_model("nominal")
    params = random_params(model, 5, 3, rng, scale=0.8)
    params[0, 1:4] = [2.5, -1.0, 6.0]  # unordered and out-of-range scoring values
    np.testing.assert_allclose(model.information(params, NODES), information_identity(model, params),
                               rtol=1e-6, atol=1e-10)


def test_irt_form_is_mirts_centred_bock_parameters():
    # mirt (coef(..., IRTpars = TRUE)): a_k = a1 * ak_k - mean, c_k = d_k - mean
    model = get_model("nominal")
    irt = model.to_irt(R_PARAMS)[0]
    slopes = 0.9 * np.array([0.0, 0.7, 2.1, 3.0])
    intercepts = np.array([0.0, 1.2, 0.4, -0.9])
    np.testing.assert_allclose(irt[:4], slopes - slopes.mean(), atol=1e-15)
    np.testing.assert_allclose(irt[4:], intercepts - intercepts.mean(), atol=1e-15)
    np.testing.assert_allclose(irt[:4].sum(), 0.0, atol=1e-14)
    # the centred form gives the same probabilities
    z = irt[None, :4] * THETA[:, None] + irt[None, 4:]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, R_NOMINAL_P, atol=1e-12)


@pytest.mark.parametrize("n_categories", [2, 3, 5])
def test_irt_round_trip(n_categories, random_params):
    rng = np.random.default_rng(n_categories)
    model = get_model("nominal")
    params = random_params(model, n_categories, 5, rng, scale=0.8)
    irt = model.to_irt(params)
    assert irt.shape == (5, 2 * n_categories)
    np.testing.assert_allclose(model.from_irt(irt), params, atol=1e-12)
    np.testing.assert_allclose(model.to_irt(model.from_irt(irt)), irt, atol=1e-12)


def test_irt_round_trip_with_negative_slope():
    params = np.array([[-0.8, 1.5, 0.5, 0.2, -0.3, 0.4]])
    model = get_model("nominal")
    np.testing.assert_allclose(model.from_irt(model.to_irt(params)), params, atol=1e-12)


def test_zero_slope_is_not_representable_without_warning():
    model = get_model("nominal")
    irt = model.to_irt(np.array([[0.0, 1.0, 2.0, 0.1, 0.2, 0.3]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = model.from_irt(irt)
    assert np.isnan(back[0, :3]).all()
    np.testing.assert_allclose(back[0, 3:], [0.1, 0.2, 0.3], atol=1e-15)


def test_start_values():
    model = get_model("nominal")
    start = model.start_values(4, 2)
    assert start.shape == (2, 6)
    np.testing.assert_array_equal(start[:, 1:3], [[1.0, 2.0], [1.0, 2.0]])  # ak = 0..K-1
    data_start = model.data_start_values(4, np.array([[0.4, 0.3, 0.2, 0.1], [0.0, 0.2, 0.3, 0.5]]))
    assert np.isfinite(data_start).all()
    assert data_start[1, -1] > data_start[0, -1]


def test_extreme_values_stay_finite():
    model = get_model("nominal")
    params = np.array([[30.0, -4.0, 9.0, 50.0, -50.0, 10.0]])
    theta = np.array([-1e3, -5.0, 0.0, 5.0, 1e3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logp = model.log_probabilities(params, theta)
        info = model.information(params, theta)
        grad, hess = model.gradient_hessian(params, theta, np.ones((1, 5, 4)))
    assert np.isfinite(logp).all() and np.isfinite(info).all()
    assert np.isfinite(grad).all() and np.isfinite(hess).all()


def test_too_few_categories_raise():
    model = get_model("nominal")
    with pytest.raises(ValueError, match="model 'nominal' needs 2 to any number of categories, got 1"):
        model.parameter_names(1)


def test_missing_responses_contribute_nothing(random_params):
    rng = np.random.default_rng(12)
    model = get_model("nominal")
    params = random_params(model, 4, 2, rng)
    counts = rng.uniform(0, 5, (2, NODES.size, 4))
    counts[0, :10] = 0.0  # nodes with no one answering item 0
    grad, hess = model.gradient_hessian(params, NODES, counts)
    g_tail, h_tail = model.gradient_hessian(params, NODES[10:], counts[:, 10:])
    np.testing.assert_allclose(grad[0], g_tail[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hess[0], h_tail[0], rtol=1e-12, atol=1e-12)


# -- recovery through psychometrics.irt.calibrate --------------------------------------------------

def test_nominal_recovery_with_30_percent_missing(simulate_responses, item_frame, rmse):
    rng = np.random.default_rng(5)
    model = get_model("nominal")
    n_items = 8
    a = rng.uniform(0.8, 1.5, n_items)
    # category 2 sits between 0 and 1 for half of the items: not the gpcm's order
    ak = np.column_stack([np.where(np.arange(n_items) % 2 == 0, 0.5, 1.5), np.full(n_items, 1.8)])
    d = np.column_stack([rng.uniform(0.3, 1.0, n_items), rng.uniform(0.0, 0.6, n_items),
                         rng.uniform(-0.8, -0.1, n_items)])
    truth = np.column_stack([a, ak, d])
    x, _ = simulate_responses(model, truth, 5000, rng, missing=0.3)
    cal = calibrate(item_frame(x), model="nominal")
    assert cal.converged
    est = cal.slope_intercept[model.parameter_names(4)].to_numpy()
    # seeds 0-5 of this design gave RMSEs up to a 0.061, ak 0.085, d 0.120, Bock's centred
    # slopes 0.081 and intercepts 0.072
    assert rmse(est[:, 0], a) < 0.1
    assert rmse(est[:, 1:3], ak) < 0.15
    assert rmse(est[:, 3:], d) < 0.2
    irt = cal.item_params[model.irt_parameter_names(4)].to_numpy()
    irt_truth = model.to_irt(truth)
    assert rmse(irt[:, :4], irt_truth[:, :4]) < 0.15
    assert rmse(irt[:, 4:], irt_truth[:, 4:]) < 0.15


def test_nominal_calibration_matches_mirt_on_science(shared_data, science_fit):
    # mirt's tests/testthat/test-02-mirtTwo.R (modp4), mirt(Science, 1, itemtype =
    # c(rep('graded', 3), 'nominal')), pinned there with relative tolerance 1e-2. The nominal
    # likelihood is flat along a ridge, so mirt's stopping point differs from the optimum by up
    # to 0.3% (Future d1: 5.297 there, 5.311 here at a log-likelihood 2e-4 higher).
    mirt = np.array([1.0408, 4.862, 2.6387, -1.4664, 1.2063, 2.9083, 0.8958, -2.254,
                     2.3376, 5.2972, 2.2404, -1.9886,
                     0.7986, 1.0782, 1.7756, 2.1964, 2.9637, 1.6742])
    cal, ours = science_fit(shared_data, "nominal")
    assert cal.converged
    np.testing.assert_allclose(ours, mirt, rtol=1e-2)
    # log-likelihood at mirt's estimates, by the E-step of science_m_step: -1609.43267
    assert cal.loglik > -1609.4327 - 1e-3


def test_stated_parameters_through_calibration():
    import pandas as pd

    from psychometrics.irt import Calibration

    model = get_model("nominal")
    stated = pd.DataFrame(R_PARAMS, columns=model.parameter_names(4), index=["n1"])
    cal = Calibration.from_item_params(stated, "nominal", form="slope_intercept")
    np.testing.assert_allclose(cal.probabilities(THETA)[0], R_NOMINAL_P, atol=1e-12)
    np.testing.assert_allclose(cal.item_params.loc["n1", model.irt_parameter_names(4)],
                               model.to_irt(R_PARAMS)[0], atol=1e-12)
    back = Calibration.from_json(cal.to_json())
    pd.testing.assert_frame_equal(back.slope_intercept, cal.slope_intercept)


def test_stated_irt_parameters_through_calibration():
    import pandas as pd

    from psychometrics.irt import Calibration

    model = get_model("nominal")
    stated = pd.DataFrame(model.to_irt(R_PARAMS), columns=model.irt_parameter_names(4), index=["n1"])
    cal = Calibration.from_item_params(stated, "nominal")
    np.testing.assert_allclose(cal.slope_intercept.loc["n1", model.parameter_names(4)], R_PARAMS[0],
                               atol=1e-12)
