"""Linking and equating: exact transformations, hand-computed moment constants, criteria against
a brute-force grid, recovery of known A and B, fixed-anchor calibration, true-score equating."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from psychometrics.irt import Calibration, calibrate
from psychometrics.linking import (LinkResult, calibrate_with_anchors, link, linking_criterion, transform,
                                   true_score_equating)
from psychometrics.simulate import simulate

METHODS = ["stocking_lord", "haebara", "mean_mean", "mean_sigma"]


def _exact_normal(rng: np.random.Generator, n: int, mean: float, sd: float) -> np.ndarray:
    # sample moments equal to the stated ones, so A = sd and B = mean hold exactly in the sample
    z = rng.standard_normal(n)
    return mean + sd * (z - z.mean()) / z.std()


def _bank(model: str, n_items: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"i{j:02d}" for j in range(n_items)]
    a = rng.uniform(0.9, 2.0, n_items)
    if model == "2pl":
        return pd.DataFrame({"a": a, "b": rng.normal(0, 1, n_items)}, index=ids)
    loc = rng.normal(0, 0.8, n_items)
    return pd.DataFrame({"a": a, "b1": loc - 1.0, "b2": loc, "b3": loc + 1.0}, index=ids)


# ------------------------------------------------------------------------------------------------
# the transformation itself
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["rasch", "1pl", "2pl", "3pl", "graded", "gpcm", "pcm", "rsm", "nominal"])
def test_transform_keeps_every_response_function(model):
    rng = np.random.default_rng(1)
    if model in ("rasch", "1pl", "2pl", "3pl"):
        params = pd.DataFrame({"a": [1.0, 1.0, 1.0] if model in ("rasch", "1pl") else [0.8, 1.4, 2.0],
                               "b": [-1.0, 0.2, 1.3]}, index=list("xyz"))
        if model == "3pl":
            params["g"] = [0.1, 0.2, 0.15]
        cal = Calibration.from_item_params(params, model)
    elif model == "rsm":
        si = pd.DataFrame({"a1": 1.0, "b1": [-0.8] * 3, "b2": [0.1] * 3, "b3": [0.9] * 3, "c": [0.0, 0.4, -0.3]},
                          index=list("xyz"))
        cal = Calibration.from_item_params(si, model, form="slope_intercept")
    elif model == "nominal":
        si = pd.DataFrame({"a1": [0.9, 1.3, 0.7], "ak1": [0.7, 1.2, 0.4], "ak2": [2.1, 1.8, 1.5],
                           "d1": [1.2, 0.3, 0.0], "d2": [0.4, 0.8, -0.2], "d3": [-0.9, -0.4, -1.0]},
                          index=list("xyz"))
        cal = Calibration.from_item_params(si, model, form="slope_intercept")
    else:
        params = pd.DataFrame({"a": [0.8, 1.4, 1.0], "b1": [-1.0, -0.5, -1.5], "b2": [0.0, 0.4, 0.2],
                               "b3": [1.1, 1.6, 0.9]}, index=list("xyz"))
        if model == "pcm":
            params["a"] = 1.0
        cal = Calibration.from_item_params(params, model)
    cal = Calibration.from_item_params(cal.item_params, cal.models, categories=cal.categories,
                                       latent_mean=0.3, latent_variance=1.2)
    A, B = 1.3, -0.4
    moved = transform(cal, A, B)
    theta = np.linspace(-3, 3, 13) + rng.normal(0, 0.01, 13)
    np.testing.assert_allclose(moved.probabilities(A * theta + B), cal.probabilities(theta), atol=1e-13)
    assert moved.latent_mean == pytest.approx(A * 0.3 + B)
    assert moved.latent_variance == pytest.approx(A * A * 1.2)
    if model in ("2pl", "graded", "gpcm", "3pl"):
        # the textbook form: a* = a / A, b* = A b + B
        bcols = [c for c in cal.item_params.columns if c.startswith("b")]
        np.testing.assert_allclose(moved.item_params["a"], cal.item_params["a"] / A, rtol=1e-13)
        np.testing.assert_allclose(moved.item_params[bcols], A * cal.item_params[bcols] + B, atol=1e-13)


@pytest.mark.parametrize("model", ["2pl", "graded", "gpcm"])
@pytest.mark.parametrize("method", METHODS)
def test_exactly_transformed_form_gives_exact_constants(model, method):
    params = _bank("2pl" if model == "2pl" else "graded", n_items=8, seed=3)
    base = Calibration.from_item_params(params, model)
    # the new form holds the same items expressed on a scale with theta_base = 1.2 theta_new + 0.35
    new = transform(base, 1 / 1.2, -0.35 / 1.2)
    result = link(base, new, method=method)
    assert isinstance(result, LinkResult) and result.n_anchors == 8
    assert result.A == pytest.approx(1.2, abs=1e-6)
    assert result.B == pytest.approx(0.35, abs=1e-6)
    back = result.apply(new)
    np.testing.assert_allclose(back.item_params.to_numpy(), base.item_params.to_numpy(), atol=1e-5)


def test_moment_methods_by_hand():
    # base: a = (1, 2), b = (-1, 1); new: a = (1.5, 3), b = (-0.5, 0.5, ...)
    # mean-mean:  A = mean(a_new) / mean(a_base) = 2.25 / 1.5 = 1.5
    #             B = mean(b_base) - A mean(b_new) = 0 - 1.5 * 0.25 = -0.375   (b_new = -0.5, 1.0)
    # mean-sigma: A = sd(b_base) / sd(b_new) = 1 / 0.75 = 4/3; B = 0 - 4/3 * 0.25 = -1/3
    base = Calibration.from_item_params(pd.DataFrame({"a": [1.0, 2.0], "b": [-1.0, 1.0]}, index=["x", "y"]), "2pl")
    new = Calibration.from_item_params(pd.DataFrame({"a": [1.5, 3.0], "b": [-0.5, 1.0]}, index=["x", "y"]), "2pl")
    mm = link(base, new, method="mean_mean")
    assert (mm.A, mm.B) == pytest.approx((1.5, -0.375), abs=1e-12)
    ms = link(base, new, method="mean_sigma")
    assert (ms.A, ms.B) == pytest.approx((4 / 3, -1 / 3), abs=1e-12)
    assert math.isnan(ms.criterion)
    assert "mean_sigma linking through 2 anchor items" in ms.summary()
    assert ms.to_frame().loc["mean_sigma", "A"] == pytest.approx(4 / 3)
    np.testing.assert_allclose(ms.transform_theta([0.0, 1.0]), [-1 / 3, 1.0])


@pytest.mark.parametrize("method", ["haebara", "stocking_lord"])
@pytest.mark.parametrize("model", ["2pl", "graded"])
def test_characteristic_curve_minimum_beats_a_brute_force_grid(method, model):
    rng = np.random.default_rng(4)
    params = _bank(model, n_items=6, seed=5)
    base = Calibration.from_item_params(params, model)
    # a perturbed new form: the criterion minimum is not zero
    noisy = params.copy()
    noisy["a"] = noisy["a"] / 1.1 * rng.uniform(0.9, 1.1, 6)
    bcols = [c for c in noisy.columns if c.startswith("b")]
    noisy[bcols] = (noisy[bcols] - 0.2) / 1.1 * 1.0 + rng.normal(0, 0.1, (6, 1))
    new = Calibration.from_item_params(noisy, model)
    result = link(base, new, method=method)
    grid_a = np.linspace(0.8, 1.5, 71)
    grid_b = np.linspace(-0.2, 0.6, 81)
    values = np.array([[linking_criterion(base, new, a, b, method=method) for b in grid_b] for a in grid_a])
    i, j = np.unravel_index(np.argmin(values), values.shape)
    assert result.criterion <= values.min() + 1e-12
    assert result.criterion == pytest.approx(linking_criterion(base, new, result.A, result.B, method=method))
    assert abs(result.A - grid_a[i]) <= 0.01 + 1e-9 and abs(result.B - grid_b[j]) <= 0.01 + 1e-9
    assert result.converged


@pytest.mark.parametrize("model", ["2pl", "graded"])
def test_recover_known_A_and_B_from_two_calibrated_forms(model):
    # forms X (items 0-19) and Y (items 0-9 and 20-29) share 10 anchors; the Y group's trait on
    # the X scale is N(0.5, 1.25^2): A = 1.25, B = 0.5
    A0, B0 = 1.25, 0.5
    rng = np.random.default_rng(12)
    params = _bank(model, seed=12)
    ids = list(params.index)
    truth = Calibration.from_item_params(params, model)
    n = 4000
    form_x = simulate(truth, n, theta=_exact_normal(rng, n, 0.0, 1.0), seed=rng)[ids[:20]]
    form_y = simulate(truth, n, theta=_exact_normal(rng, n, B0, A0), seed=rng)[ids[:10] + ids[20:]]
    cal_x = calibrate(form_x, model)
    cal_y = calibrate(form_y, model)
    anchors = ids[:10]
    for method in METHODS:
        result = link(cal_x, cal_y, anchors, method=method)
        # characteristic-curve methods within 0.05; the moment methods rest on the raw
        # estimates without weighting them by their precision (Kolen & Brennan 2014, 6.3;
        # Hanson & Beguin 2002 report about twice the error): within 0.1
        tolerance = 0.05 if method in ("stocking_lord", "haebara") else 0.1
        assert abs(result.A - A0) < tolerance, method
        assert abs(result.B - B0) < tolerance, method
    # the linked Y calibration and the fixed-anchor calibration agree on the latent distribution
    linked = link(cal_x, cal_y, anchors).apply(cal_y)
    assert linked.latent_mean == pytest.approx(B0, abs=0.05)
    assert math.sqrt(linked.latent_variance) == pytest.approx(A0, abs=0.05)
    fixed = calibrate_with_anchors(form_y, cal_x, model)
    assert fixed.latent_mean == pytest.approx(B0, abs=0.05)
    assert math.sqrt(fixed.latent_variance) == pytest.approx(A0, abs=0.06)
    pd.testing.assert_frame_equal(fixed.slope_intercept.loc[anchors], cal_x.slope_intercept.loc[anchors],
                                  check_exact=False, atol=1e-12)
    new_items = ids[20:]
    rmse_b = np.sqrt(np.mean((fixed.item_params.loc[new_items].filter(like="b").to_numpy()
                              - params.loc[new_items].filter(like="b").to_numpy()) ** 2))
    assert rmse_b < 0.12


def test_fixed_anchor_calibration_keeps_bank_categories_and_checks_anchors():
    params = _bank("graded", n_items=8, seed=2)
    bank = Calibration.from_item_params(params, "graded", categories=(1, 2, 3, 4))
    data = simulate(bank, 600, seed=3, latent_mean=1.0)
    data.loc[data["i00"] == 1, "i00"] = 2.0        # category 1 of an anchor unused in the new data
    cal = calibrate_with_anchors(data, bank, "graded", anchors=["i00", "i01", "i02", "i03"])
    assert cal.categories["i00"] == (1, 2, 3, 4)
    assert cal.slope_intercept.loc["i00", "d3"] == bank.slope_intercept.loc["i00", "d3"]
    with pytest.raises(ValueError, match="absent from the bank"):
        calibrate_with_anchors(data.rename(columns={"i05": "new5"}), bank, "graded", anchors=["new5"])
    with pytest.raises(ValueError, match="absent from the responses"):
        calibrate_with_anchors(data[["i00", "i01"]], bank, "graded", anchors=["i02"])
    with pytest.raises(ValueError, match="nothing to anchor on"):
        calibrate_with_anchors(data.add_prefix("x"), bank, "graded")
    with pytest.raises(ValueError, match="no new item"):
        calibrate_with_anchors(data, bank, "graded")
    with pytest.raises(ValueError, match="is a 'graded' item in the bank"):
        calibrate_with_anchors(data, bank, {i: "gpcm" for i in data.columns}, anchors=["i00"])
    with pytest.raises(ValueError, match="sets 'fixed'"):
        calibrate_with_anchors(data, bank, "graded", anchors=["i00"], fixed={})


def test_link_errors_name_the_missing_anchor():
    base = Calibration.from_item_params(pd.DataFrame({"a": [1.0, 1.2], "b": [0.0, 1.0]}, index=["x", "y"]), "2pl")
    new = Calibration.from_item_params(pd.DataFrame({"a": [1.0, 1.2], "b": [0.0, 1.0]}, index=["x", "z"]), "2pl")
    with pytest.raises(ValueError, match=r"absent from the new form: \['y'\]"):
        link(base, new, ["x", "y"])
    with pytest.raises(ValueError, match=r"absent from the base form: \['z'\]"):
        link(base, new, ["z"])
    assert link(base, new, {"y": "z"}, method="mean_mean").anchors == {"y": "z"}
    other = Calibration.from_item_params(pd.DataFrame({"a": [1.0], "b1": [0.0], "b2": [1.0]}, index=["x"]),
                                         "graded")
    with pytest.raises(ValueError, match="categories"):
        link(base, other, ["x"])
    with pytest.raises(ValueError, match="method"):
        link(base, new, ["x"], method="equipercentile")
    with pytest.raises(ValueError, match="share no item"):
        link(base, Calibration.from_item_params(pd.DataFrame({"a": [1.0], "b": [0.0]}, index=["w"]), "2pl"))
    nominal = Calibration.from_item_params(pd.DataFrame({"a1": [1.0], "ak1": [1.0], "d1": [0.0], "d2": [0.5]},
                                                        index=["x"]), "nominal", form="slope_intercept")
    with pytest.raises(ValueError, match="nominal"):
        link(nominal, nominal, method="mean_sigma")
    assert link(nominal, transform(nominal, 1 / 1.1, 0.0), method="haebara").A == pytest.approx(1.1, abs=1e-5)
    with pytest.raises(ValueError, match="A must be positive"):
        transform(base, -1.0, 0.0)


# ------------------------------------------------------------------------------------------------
# true-score equating
# ------------------------------------------------------------------------------------------------

def test_true_score_equating_of_identical_forms_is_the_identity():
    cal = Calibration.from_item_params(_bank("graded", n_items=5, seed=1), "graded", categories=(1, 2, 3, 4))
    table = true_score_equating(cal, cal)
    assert table["score_x"].tolist() == list(range(5, 21))
    np.testing.assert_allclose(table["score_y"], table["score_x"], atol=1e-8)
    assert table["theta"].iloc[0] == -np.inf and table["theta"].iloc[-1] == np.inf
    assert np.all(np.diff(table["theta"].to_numpy()[1:-1]) > 0)


def test_true_score_equating_by_hand():
    # form X: Rasch items b = (-1, 0, 1); form Y: 2PL items (a, b) = (1.5, -0.5), (0.8, 0.5).
    # For x = 1 and 2, theta solves sum_j logistic(theta - b_j) = x (brentq), and
    # e_Y(x) = sum_j logistic(a_j (theta - b_j)).
    form_x = Calibration.from_item_params(pd.DataFrame({"b": [-1.0, 0.0, 1.0]}, index=["x1", "x2", "x3"]), "rasch")
    form_y = Calibration.from_item_params(pd.DataFrame({"a": [1.5, 0.8], "b": [-0.5, 0.5]}, index=["y1", "y2"]),
                                          "2pl")

    def logistic(z):
        return 1 / (1 + np.exp(-z))

    table = true_score_equating(form_x, form_y)
    for x in (1, 2):
        theta = optimize.brentq(lambda t: logistic(t - np.array([-1.0, 0.0, 1.0])).sum() - x, -10, 10, xtol=1e-14)
        expected = logistic(np.array([1.5, 0.8]) * (theta - np.array([-0.5, 0.5]))).sum()
        row = table.set_index("score_x").loc[float(x)]
        assert row["theta"] == pytest.approx(theta, abs=1e-9)
        assert row["score_y"] == pytest.approx(expected, abs=1e-9)
    assert table["score_y"].iloc[0] == 0.0 and table["score_y"].iloc[-1] == 2.0


def test_true_score_equating_below_the_guessing_floor():
    # 3PL form X with g = 0.2 on 5 items: scores 0 and 1 are at or below the floor 1.0; Kolen &
    # Brennan's interpolation maps 0 -> 0 and 1 -> the floor of form Y (2 items, g = 0.25: 0.5)
    px = pd.DataFrame({"a": [1.0] * 5, "b": [-1.0, -0.5, 0.0, 0.5, 1.0], "g": [0.2] * 5}, index=list("abcde"))
    py = pd.DataFrame({"a": [1.2, 0.9], "b": [0.0, 0.3], "g": [0.25, 0.25]}, index=["f", "g"])
    table = true_score_equating(Calibration.from_item_params(px, "3pl"), Calibration.from_item_params(py, "3pl"))
    low = table.set_index("score_x")
    assert low.loc[0.0, "score_y"] == pytest.approx(0.0)
    assert low.loc[1.0, "score_y"] == pytest.approx(0.5, abs=1e-6)
    assert math.isnan(low.loc[1.0, "theta"])
    assert np.isfinite(low.loc[3.0, "theta"])
    with pytest.raises(ValueError, match="outside the possible"):
        true_score_equating(Calibration.from_item_params(px, "3pl"), Calibration.from_item_params(py, "3pl"),
                            scores=[6])
