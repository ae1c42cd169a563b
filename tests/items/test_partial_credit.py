"""Tests of psychometrics/items/partial_credit.py: gpcm, pcm, rsm."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from psychometrics.irt import calibrate
from psychometrics.items import MODELS, get_model
from psychometrics.items.partial_credit import (
    GeneralizedPartialCreditModel,
    PartialCreditModel,
    RatingScaleModel,
)

THETA = np.array([-2.0, -0.5, 0.0, 1.0, 2.5])
NODES = np.linspace(-6.0, 6.0, 31)  # as the default grid of the conftest checks

# tests/reference/partial_credit_nominal.R (base R, independent implementation; information
# by central differences of P): printed to 12 significant digits
R_GPCM_P = np.array([
    [0.853116228386446, 0.141019164076073, 0.005748251930928, 0.000116355606554],
    [0.393381087703983, 0.457043618136185, 0.130945188970354, 0.018630105189478],
    [0.209213128132709, 0.465612379437283, 0.255533491744608, 0.069641000685400],
    [0.023778123407811, 0.194176195950185, 0.391022840321002, 0.391022840321002],
    [0.000151953744911, 0.008721758546439, 0.123448107521940, 0.867678180186710],
])
R_GPCM_I = np.array([0.239459050096, 0.926361005439, 1.197977428041, 1.112060400639,
                     0.236132908251])
R_PCM_P = np.array([
    [0.89650601859937, 0.08132919111897, 0.02216479028166],
    [0.52544328715310, 0.21362929847082, 0.26092741437608],
    [0.33110621869435, 0.22194713575789, 0.44694664554776],
    [0.07814758187201, 0.14239417813404, 0.77945823999396],
    [0.00477320179664, 0.03897877689834, 0.95624802130501],
])
R_PCM_I = np.array([0.1541982261784, 0.7164020521857, 0.7646338565229, 0.3657691836505,
                    0.0557168912496])
R_RSM_P = np.array([
    [0.607671363878208, 0.333497115417488, 0.055126702403617, 0.003704818300687],
    [0.171510890354882, 0.421848719514166, 0.312513217787346, 0.094127172343606],
    [0.080206383843271, 0.325252925101966, 0.397264819819204, 0.197275871235559],
    [0.010201597863170, 0.112454012610096, 0.373360470296409, 0.503983919230326],
    [0.000191110882967, 0.009441345669298, 0.140484690680941, 0.849882852766794],
])
R_RSM_I = np.array([0.380445144446, 0.752122840181, 0.760185641151, 0.519509287741,
                    0.154389039497])


# -- registration and names -----------------------------------------------------------------------

def test_models_are_registered_under_mirt_names():
    assert isinstance(MODELS["gpcm"], GeneralizedPartialCreditModel)
    assert isinstance(MODELS["pcm"], PartialCreditModel)
    assert isinstance(MODELS["rsm"], RatingScaleModel)
    assert get_model("GPCM") is MODELS["gpcm"]


def test_parameter_names_follow_mirt():
    gpcm, pcm, rsm = get_model("gpcm"), get_model("pcm"), get_model("rsm")
    assert gpcm.parameter_names(4) == ["a1", "d1", "d2", "d3"]
    assert gpcm.irt_parameter_names(4) == ["a", "b1", "b2", "b3"]
    assert gpcm.n_parameters(5) == 5
    assert pcm.parameter_names(3) == ["a1", "d1", "d2"]
    assert pcm.fixed_values == {"a1": 1.0} and pcm.estimates_latent_variance
    assert list(pcm.free_mask(3)) == [False, True, True]
    assert rsm.parameter_names(4) == ["a1", "b1", "b2", "b3", "c"]
    assert rsm.irt_parameter_names(4) == ["a", "b1", "b2", "b3", "c"]
    assert rsm.tied_names(4) == ["b1", "b2", "b3"]
    assert [n in rsm.tied for n in rsm.parameter_names(4)] == [False, True, True, True, False]
    assert rsm.anchor_first_item == {"c": 0.0}
    assert rsm.estimates_latent_variance and not gpcm.estimates_latent_variance


# -- known answers ---------------------------------------------------------------------------------

def test_gpcm_matches_r_reference():
    params = np.array([[1.3, 0.8, 0.2, -1.1]])
    model = get_model("gpcm")
    np.testing.assert_allclose(model.probabilities(params, THETA)[0], R_GPCM_P, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.information(params, THETA)[0], R_GPCM_I, rtol=1e-8)


def test_pcm_matches_r_reference():
    params = np.array([[1.0, -0.4, 0.3]])
    model = get_model("pcm")
    np.testing.assert_allclose(model.probabilities(params, THETA)[0], R_PCM_P, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.information(params, THETA)[0], R_PCM_I, rtol=1e-8)


def test_rsm_matches_r_reference_of_mirt_gpcmirt_recursion():
    params = np.array([[1.0, -1.0, 0.2, 1.1, 0.4]])
    model = get_model("rsm")
    np.testing.assert_allclose(model.probabilities(params, THETA)[0], R_RSM_P, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.information(params, THETA)[0], R_RSM_I, rtol=1e-8)


def test_gpcm_m_step_reproduces_mirt_science_estimates(shared_data, science_m_step):
    # mirt's tests/testthat/test-02-mirtTwo.R (modp5): mirt(Science, 1, itemtype =
    # c(rep('graded', 3), 'gpcm')) pins, to 3 decimals: graded a1, d1..d3 of items 1-3 and
    # gpcm item 4 a1 = 0.771, d = (0, 2.16, 2.973, 1.767)
    graded = np.array([[1.057, 4.876, 2.65, -1.472], [1.219, 2.918, 0.9, -2.263],
                       [2.254, 5.177, 2.19, -1.942]])
    mirt_item4 = np.array([0.771, 2.16, 2.973, 1.767])
    got = science_m_step(shared_data, get_model("gpcm"), mirt_item4[None], graded)
    np.testing.assert_allclose(got, mirt_item4, atol=5e-3)


def test_two_categories_reduce_to_2pl_and_rasch():
    rng = np.random.default_rng(7)
    ad = np.column_stack([rng.uniform(0.5, 2.0, 6), rng.normal(0, 1, 6)])
    two_pl, gpcm = get_model("2pl"), get_model("gpcm")
    np.testing.assert_allclose(gpcm.log_probabilities(ad, NODES), two_pl.log_probabilities(ad, NODES),
                               atol=1e-12)
    np.testing.assert_allclose(gpcm.information(ad, NODES), two_pl.information(ad, NODES), atol=1e-12)
    counts = rng.uniform(0, 5, (6, NODES.size, 2))
    for got, want in zip(gpcm.gradient_hessian(ad, NODES, counts),
                         two_pl.gradient_hessian(ad, NODES, counts)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-9)
    ad[:, 0] = 1.0
    np.testing.assert_allclose(get_model("pcm").probabilities(ad, NODES),
                               get_model("rasch").probabilities(ad, NODES), atol=1e-12)


def test_rsm_is_a_pcm_with_intercepts_from_thresholds_and_location():
    rng = np.random.default_rng(3)
    b = rng.normal(0, 1, 3)
    c = rng.normal(0, 1, 5)
    rsm_params = np.column_stack([np.ones(5), np.tile(b, (5, 1)), c])
    d = -np.cumsum(b)[None, :] + c[:, None] * np.arange(1, 4)
    pcm_params = np.column_stack([np.ones(5), d])
    np.testing.assert_allclose(get_model("rsm").probabilities(rsm_params, NODES),
                               get_model("pcm").probabilities(pcm_params, NODES), atol=1e-12)


# -- derivatives and information -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm"])
@pytest.mark.parametrize("n_categories", [2, 3, 5])
def test_gradient_hessian_match_finite_differences(name, n_categories, finite_difference_check, random_params):
    rng = np.random.default_rng(n_categories)
    model = get_model(name)
    params = random_params(model, n_categories, 4, rng)
    if name == "rsm":
        params[:, 0] = rng.uniform(0.6, 1.6, 4)  # exercise the a x b curvature term too
    grad_err, hess_err, hess = finite_difference_check(model, params, rng)
    assert grad_err < 1e-7
    assert hess_err < 1e-6
    np.testing.assert_allclose(hess, hess.transpose(0, 2, 1), atol=1e-9)


@pytest.mark.parametrize("name", ["gpcm", "pcm"])
def test_linear_models_have_negative_semidefinite_hessian(name, random_params):
    rng = np.random.default_rng(11)
    model = get_model(name)
    params = random_params(model, 5, 3, rng)
    counts = rng.uniform(0, 10, (3, NODES.size, 5))
    _, hess = model.gradient_hessian(params, NODES, counts)
    assert np.linalg.eigvalsh(hess).max() < 1e-8


@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm"])
def test_information_equals_sum_of_squared_slopes_over_p(name, information_identity, random_params):
    rng = np.random.default_rng(5)
    model = get_model(name)
    params = random_params(model, 4, 3, rng)
    np.testing.assert_allclose(model.information(params, NODES), information_identity(model, params),
                               rtol=1e-6, atol=1e-10)


def test_gpcm_information_scales_with_squared_slope():
    base = np.array([[1.0, 0.5, -0.5]])
    double = base.copy()
    double[0, 0] = 2.0
    gpcm = get_model("gpcm")
    # P(2a, d; theta) = P(a, d; 2 theta), so I(2a; theta) = 4 I(a; 2 theta)
    np.testing.assert_allclose(gpcm.information(double, NODES), 4 * gpcm.information(base, 2 * NODES),
                               rtol=1e-12)


# -- parameterizations ---------------------------------------------------------------------------

def test_gpcm_irt_conversion_follows_mirt():
    # mirt: b_k = -(d_k - d_{k-1}) / a with d_0 = 0
    gpcm = get_model("gpcm")
    params = np.array([[1.3, 0.8, 0.2, -1.1], [0.5, -1.0, -1.5, -1.0]])
    irt = gpcm.to_irt(params)
    expected_b = -np.diff(np.column_stack([np.zeros(2), params[:, 1:]]), axis=1) / params[:, :1]
    np.testing.assert_allclose(irt[:, 1:], expected_b, atol=1e-15)
    np.testing.assert_allclose(irt[:, 0], params[:, 0])
    # z_k = sum_{j<=k} a (theta - b_j): probabilities from the IRT form directly
    a, b = irt[:, 0], irt[:, 1:]
    z = np.concatenate([np.zeros((2, NODES.size, 1)),
                        np.cumsum(a[:, None, None] * (NODES[None, :, None] - b[:, None, :]), axis=2)],
                       axis=2)
    p = np.exp(z - z.max(axis=2, keepdims=True))
    np.testing.assert_allclose(gpcm.probabilities(params, NODES), p / p.sum(axis=2, keepdims=True),
                               atol=1e-12)


@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm"])
def test_irt_round_trip(name, random_params):
    rng = np.random.default_rng(17)
    model = get_model(name)
    params = random_params(model, 5, 6, rng)
    irt = model.to_irt(params)
    assert irt.shape == (6, len(model.irt_parameter_names(5)))
    np.testing.assert_allclose(model.from_irt(irt), params, atol=1e-13)
    np.testing.assert_allclose(model.to_irt(model.from_irt(irt)), irt, atol=1e-13)


def test_zero_slope_has_no_thresholds_and_no_warning():
    gpcm = get_model("gpcm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        irt = gpcm.to_irt(np.array([[0.0, 0.3, -0.2]]))
    assert irt[0, 0] == 0.0 and np.isnan(irt[0, 1:]).all()


# -- rating-scale block -------------------------------------------------------------------------

@pytest.mark.parametrize("fix_first", [True, False])
def test_rsm_block_derivatives_match_finite_differences(fix_first):
    rng = np.random.default_rng(23)
    rsm = get_model("rsm")
    n_items, n_cat = 4, 4
    b, c = np.array([-0.8, 0.1, 0.9]), rng.normal(0, 0.5, n_items)
    c[0] = 0.0
    params = np.column_stack([np.ones(n_items), np.tile(b, (n_items, 1)), c])
    counts = rng.uniform(0, 20, (n_items, NODES.size, n_cat))
    vector = rsm.block_vector(params, fix_first_location=fix_first)
    assert vector.size == n_cat - 1 + n_items - fix_first
    np.testing.assert_array_equal(rsm.expand_block(vector, n_items, fix_first_location=fix_first), params)
    grad, hess = rsm.pool_block(*rsm.gradient_hessian(params, NODES, counts), fix_first_location=fix_first)

    def block_objective(v):
        return rsm.objective(rsm.expand_block(v, n_items, fix_first_location=fix_first), NODES, counts).sum()

    eps = 1e-5
    eye = np.eye(vector.size) * eps
    num_grad = np.array([(block_objective(vector + e) - block_objective(vector - e)) / (2 * eps) for e in eye])
    np.testing.assert_allclose(grad, num_grad, rtol=1e-7, atol=1e-6)

    def block_grad(v):
        p = rsm.expand_block(v, n_items, fix_first_location=fix_first)
        return rsm.pool_block(*rsm.gradient_hessian(p, NODES, counts), fix_first_location=fix_first)[0]

    num_hess = np.column_stack([(block_grad(vector + e) - block_grad(vector - e)) / (2 * eps) for e in eye])
    np.testing.assert_allclose(hess, num_hess, rtol=1e-6, atol=1e-5)
    if fix_first:
        # identified: strictly concave
        assert np.linalg.eigvalsh(hess).max() < 0
    else:
        # c_i + s, b_j + s leaves every probability unchanged: one flat direction
        flat = np.concatenate([np.ones(n_cat - 1), np.ones(n_items)])
        np.testing.assert_allclose(hess @ flat, 0.0, atol=1e-8)


# -- start values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm"])
def test_start_values_shapes_and_data_start_values(name):
    model = get_model(name)
    start = model.start_values(5, 3)
    assert start.shape == (3, model.n_parameters(5))
    assert np.isfinite(start).all()
    # a category nobody chose still gives finite, usable values
    proportions = np.array([[0.1, 0.2, 0.4, 0.3, 0.0], [0.3, 0.3, 0.2, 0.1, 0.1], [0.0, 0.1, 0.2, 0.3, 0.4]])
    data_start = model.data_start_values(5, proportions)
    assert data_start.shape == start.shape and np.isfinite(data_start).all()
    for name_, value in model.fixed_values.items():
        assert (data_start[:, model.parameter_names(5).index(name_)] == value).all()


def test_data_start_values_recover_marginal_order():
    # item 1 is easier (more mass in high categories) than item 0
    proportions = np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]])
    gpcm_start = get_model("gpcm").data_start_values(4, proportions)
    assert gpcm_start[1, -1] > gpcm_start[0, -1]
    rsm_start = get_model("rsm").data_start_values(4, proportions)
    assert rsm_start[0, -1] == 0.0 and rsm_start[1, -1] > 0


# -- robustness and bad input -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm"])
def test_extreme_theta_and_slopes_stay_finite(name):
    model = get_model(name)
    params = model.start_values(5, 2)
    params[:, 0] = [1.0, 1.0] if name != "gpcm" else [40.0, 0.01]
    theta = np.array([-1e3, -60.0, 0.0, 60.0, 1e3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logp = model.log_probabilities(params, theta)
        info = model.information(params, theta)
        grad, hess = model.gradient_hessian(params, theta, np.ones((2, theta.size, 5)))
    assert np.isfinite(logp).all() and np.isfinite(info).all() and (info >= 0).all()
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    np.testing.assert_allclose(np.exp(logp).sum(axis=-1), 1.0, atol=1e-12)


def test_non_finite_parameters_give_minus_inf_not_nan():
    gpcm = get_model("gpcm")
    params = np.array([[np.inf, 0.0, 0.0], [1.0, np.nan, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logp = gpcm.log_probabilities(params, np.array([-1.0, 0.0, 1.0]))
    assert not np.isnan(logp).any()
    assert np.isneginf(gpcm.objective(params[1:], np.zeros(1), np.ones((1, 1, 3))))[0]


@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm"])
def test_too_few_categories_raise(name):
    model = get_model(name)
    for method in (model.parameter_names, model.irt_parameter_names, model.n_parameters):
        with pytest.raises(ValueError, match=f"model '{name}' needs 2 to any number of categories, got 1"):
            method(1)
    with pytest.raises(ValueError, match="got 0"):
        model.start_values(0, 3)


def test_unknown_model_name_lists_known_models():
    with pytest.raises(ValueError, match="unknown item model 'gpc'.*gpcm.*nominal.*pcm.*rsm"):
        get_model("gpc")


# -- batching and missing data ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm"])
def test_batch_equals_item_by_item(name, random_params):
    rng = np.random.default_rng(29)
    model = get_model(name)
    params = random_params(model, 4, 5, rng)
    counts = rng.uniform(0, 9, (5, NODES.size, 4))
    grad, hess = model.gradient_hessian(params, NODES, counts)
    info = model.information(params, NODES)
    for i in range(5):
        g1, h1 = model.gradient_hessian(params[i:i + 1], NODES, counts[i:i + 1])
        np.testing.assert_allclose(g1[0], grad[i], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h1[0], hess[i], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(model.information(params[i], NODES)[0], info[i], rtol=1e-12)


@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm"])
def test_missing_responses_contribute_nothing(name, random_params):
    # missing responses enter the M-step as zero expected counts: nodes or items with no
    # counts add nothing, and counts are additive across chunks of persons
    rng = np.random.default_rng(31)
    model = get_model(name)
    params = random_params(model, 4, 3, rng)
    counts = rng.uniform(0, 9, (3, NODES.size, 4))
    counts[1] = 0.0
    grad, hess = model.gradient_hessian(params, NODES, counts)
    np.testing.assert_array_equal(grad[1], 0.0)
    np.testing.assert_array_equal(hess[1], 0.0)
    half = counts / 2
    g_half, h_half = model.gradient_hessian(params, NODES, half)
    np.testing.assert_allclose(2 * g_half, grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(2 * h_half, hess, rtol=1e-12, atol=1e-12)


# -- recovery through psychometrics.irt.calibrate --------------------------------------------------

def test_gpcm_calibration_matches_mirt_on_science(shared_data, science_fit):
    # mirt's tests/testthat/test-02-mirtTwo.R (modp5), mirt(Science, 1, itemtype =
    # c(rep('graded', 3), 'gpcm')): a1, d1..d3 per item, pinned to 3 decimals there
    mirt = np.array([1.057, 4.876, 2.65, -1.472, 1.219, 2.918, 0.9, -2.263,
                     2.254, 5.177, 2.19, -1.942, 0.771, 2.16, 2.973, 1.767])
    cal, ours = science_fit(shared_data, "gpcm")
    assert cal.converged
    np.testing.assert_allclose(ours, mirt, rtol=0, atol=5e-3)


def _gpcm_truth(rng, n_items, n_categories):
    a = rng.uniform(0.8, 2.0, n_items)
    location = rng.uniform(-0.8, 0.8, n_items)
    steps = np.linspace(-1.0, 1.0, n_categories - 1)
    b = location[:, None] + steps[None, :] + rng.normal(0, 0.15, (n_items, n_categories - 1))
    return a, b


def test_gpcm_recovery_5000_by_20(simulate_responses, item_frame, rmse):
    rng = np.random.default_rng(20261126)
    gpcm = get_model("gpcm")
    a, b = _gpcm_truth(rng, 20, 4)
    x, _ = simulate_responses(gpcm, gpcm.from_irt(np.column_stack([a, b])), 5000, rng)
    cal = calibrate(item_frame(x), model="gpcm")
    assert cal.converged
    est = cal.item_params
    assert rmse(est["a"], a) < 0.1
    assert rmse(est[["b1", "b2", "b3"]].to_numpy(), b) < 0.1
    # the slope-intercept table is the same fit in mirt's other form
    si = cal.slope_intercept[["a1", "d1", "d2", "d3"]].to_numpy()
    np.testing.assert_allclose(gpcm.to_irt(si), est[["a", "b1", "b2", "b3"]].to_numpy(), atol=1e-10)


def test_pcm_recovery_5000_by_20_with_30_percent_missing(simulate_responses, item_frame, rmse):
    rng = np.random.default_rng(7)
    pcm = get_model("pcm")
    _, b = _gpcm_truth(rng, 20, 4)
    params = pcm.from_irt(np.column_stack([np.ones(20), b]))
    latent_sd = 1.3
    x, _ = simulate_responses(pcm, params, 5000, rng, latent_sd=latent_sd, missing=0.3)
    assert 0.28 < np.isnan(x).mean() < 0.32
    cal = calibrate(item_frame(x), model="pcm")
    assert cal.converged
    assert rmse(cal.item_params[["b1", "b2", "b3"]].to_numpy(), b) < 0.1
    assert abs(cal.latent_variance - latent_sd**2) < 0.15
    np.testing.assert_array_equal(cal.item_params["a"], 1.0)


def test_gpcm_recovery_with_30_percent_missing(simulate_responses, item_frame, rmse):
    rng = np.random.default_rng(11)
    gpcm = get_model("gpcm")
    a, b = _gpcm_truth(rng, 20, 4)
    x, _ = simulate_responses(gpcm, gpcm.from_irt(np.column_stack([a, b])), 5000, rng, missing=0.3)
    cal = calibrate(item_frame(x), model="gpcm")
    assert cal.converged
    assert rmse(cal.item_params["a"], a) < 0.1
    assert rmse(cal.item_params[["b1", "b2", "b3"]].to_numpy(), b) < 0.1


def test_rsm_recovery_with_30_percent_missing(simulate_responses, item_frame, rmse):
    rng = np.random.default_rng(13)
    rsm = get_model("rsm")
    n_items = 10
    b = np.array([-1.2, -0.2, 0.4, 1.3])
    c = np.concatenate([[0.0], rng.uniform(-0.8, 0.8, n_items - 1)])
    params = np.column_stack([np.ones(n_items), np.tile(b, (n_items, 1)), c])
    x, _ = simulate_responses(rsm, params, 3000, rng, latent_sd=1.2, missing=0.3)
    cal = calibrate(item_frame(x), model="rsm")
    assert cal.converged
    est = cal.item_params
    # the thresholds are one set for the block; c of the first item is mirt's anchor
    b_est = est[["b1", "b2", "b3", "b4"]].to_numpy()
    np.testing.assert_allclose(b_est, np.tile(b_est[0], (n_items, 1)), atol=1e-12)
    assert est["c"].iloc[0] == 0.0
    assert rmse(b_est[0], b) < 0.1
    assert rmse(est["c"], c) < 0.1
    assert abs(cal.latent_variance - 1.44) < 0.2


# -- through Calibration: stated parameters, JSON -----------------------------------------------

def test_stated_parameters_round_trip_through_calibration():
    import pandas as pd

    from psychometrics.irt import Calibration

    stated = pd.DataFrame({"a": [1.3, np.nan, np.nan], "b1": [-1.0, -0.5, -1.0],
                           "b2": [0.5, 0.7, 0.2], "b3": [1.0, np.nan, 1.1], "c": [np.nan, np.nan, 0.4]},
                          index=["g", "p", "r"])
    models = {"g": "gpcm", "p": "pcm", "r": "rsm"}
    cal = Calibration.from_item_params(stated, models)
    assert cal.categories == {"g": (0, 1, 2, 3), "p": (0, 1, 2), "r": (0, 1, 2, 3)}
    si = cal.slope_intercept
    np.testing.assert_allclose(si.loc["g", ["a1", "d1", "d2", "d3"]], [1.3, 1.3, 0.65, -0.65], atol=1e-12)
    np.testing.assert_allclose(si.loc["p", ["a1", "d1", "d2"]], [1.0, 0.5, -0.2], atol=1e-12)
    np.testing.assert_allclose(si.loc["r", ["a1", "b1", "b2", "b3", "c"]], [1.0, -1.0, 0.2, 1.1, 0.4])
    # probabilities of the calibration are the models' (the rsm row is the R reference item)
    np.testing.assert_allclose(cal.probabilities(THETA)[2], R_RSM_P, atol=1e-12)
    again = Calibration.from_item_params(cal.slope_intercept, models, form="slope_intercept")
    pd.testing.assert_frame_equal(again.item_params, cal.item_params)
    back = Calibration.from_json(cal.to_json())
    pd.testing.assert_frame_equal(back.item_params, cal.item_params)
    pd.testing.assert_frame_equal(back.slope_intercept, cal.slope_intercept)


# -- bad input at calibration ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gpcm", "pcm", "rsm", "nominal"])
def test_calibration_bad_input(shared_data, name):
    import pandas as pd

    from psychometrics.data import load_responses
    from psychometrics.errors import ConvergenceWarning, DataWarning, ModelWarning, ResponseError

    x = pd.read_csv(shared_data / "Science.csv")
    # a constant item
    with warnings.catch_warnings(), pytest.raises(ResponseError, match="item 'Const'.*constant"):
        warnings.simplefilter("ignore", DataWarning)  # the data layer notes it first
        calibrate(x.assign(Const=3.0), model=name)
    # a category never used: collapsed with a warning naming item and category
    unused = x.copy()
    unused.loc[unused["Work"] == 1, "Work"] = 2
    responses = load_responses(unused, categories={c: (1, 2, 3, 4) for c in x.columns})
    with pytest.warns(ModelWarning, match="item 'Work': category 1 never used"):
        cal = calibrate(responses, model=name)
    assert cal.categories["Work"] == (2, 3, 4)
    # non-convergence is a warning and a flag, never silent
    with pytest.warns(ConvergenceWarning):
        cal = calibrate(x, model=name, max_iter=3)
    assert not cal.converged
