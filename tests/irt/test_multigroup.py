"""Multi-group calibration: against a direct maximizer, identities, recovery, missing data, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import DataWarning, ModelWarning, ResponseError
from psychometrics.irt import MIN_GROUP_SIZE, Calibration, calibrate
from psychometrics.simulate import simulate

PARAMS = pd.DataFrame({"a": [1.0, 1.4, 0.8, 1.9, 1.2, 1.1], "b": [-1.0, -0.3, 0.0, 0.4, 1.1, -0.6]},
                      index=[f"i{j}" for j in range(6)])


def _exact_normal(rng: np.random.Generator, n: int, mean: float, sd: float) -> np.ndarray:
    # sample moments equal to the stated ones, so the truth is exact for this sample
    z = rng.standard_normal(n)
    return mean + sd * (z - z.mean()) / z.std()


def _two_groups(n: int = 400, mean: float = 0.5, sd: float = 1.3, missing: float = 0.0, seed: int = 7,
                params: pd.DataFrame = PARAMS, model: str = "2pl"):
    rng = np.random.default_rng(seed)
    cal = Calibration.from_item_params(params, model)
    ref = simulate(cal, n, theta=_exact_normal(rng, n, 0.0, 1.0), seed=rng, missing=missing)
    foc = simulate(cal, n, theta=_exact_normal(rng, n, mean, sd), seed=rng, missing=missing)
    foc.index = [f"f{i:05d}" for i in range(n)]
    data = pd.concat([ref, foc])
    group = pd.Series(["ref"] * n + ["foc"] * n, index=data.index)
    return data, group


# ------------------------------------------------------------------------------------------------
# known answer: the two-group marginal log-likelihood written out directly (61 nodes on [-6, 6],
# normal weights per group, missing responses left out) and maximized by scipy's BFGS over the
# shared 2PL parameters, the focal mean and the focal log-SD; EM must reach the same maximum and
# its Oakes standard errors must equal those from the finite-difference Hessian of that function
# ------------------------------------------------------------------------------------------------

def _direct_two_group(codes: np.ndarray, in_focal: np.ndarray, x0: np.ndarray):
    from scipy.optimize import minimize

    nodes = np.linspace(-6, 6, 61)
    n_items = codes.shape[1]

    def log_weights(mean, var):
        lw = -0.5 * (nodes - mean) ** 2 / var
        return lw - np.logaddexp.reduce(lw)

    def negative_loglik(x):
        a, d = x[:n_items], x[n_items:2 * n_items]
        mean, var = x[-2], np.exp(2 * x[-1])
        z = a[:, None] * nodes[None, :] + d[:, None]
        log_p1 = -np.logaddexp(0, -z)
        log_p0 = -np.logaddexp(0, z)
        total = np.where(in_focal[:, None], log_weights(mean, var)[None, :], log_weights(0.0, 1.0)[None, :])
        for j in range(n_items):
            total = total + np.where(codes[:, j:j + 1] == 1, log_p1[j], np.where(codes[:, j:j + 1] == 0, log_p0[j], 0))
        return -np.logaddexp.reduce(total, axis=1).sum()

    result = minimize(negative_loglik, x0, method="BFGS", options={"gtol": 1e-8})
    return result.x, -result.fun, negative_loglik


def _hessian(f, x, h=1e-4):
    k = x.size
    out = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            out[i, j] = out[j, i] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j)
                                     + f(x - e_i - e_j)) / (4 * h * h)
    return out


def test_two_group_2pl_equals_direct_maximization():
    data, group = _two_groups(n=300, missing=0.1)
    cal = calibrate(data, "2pl", group=group, reference="ref", tol=1e-6, se=True)
    assert cal.converged and cal.groups == ("ref", "foc")
    codes = np.where(data.isna(), -1, data.fillna(0)).astype(int)
    x0 = np.r_[np.ones(6), np.zeros(6), 0.0, 0.0]
    x, loglik, f = _direct_two_group(codes, (group == "foc").to_numpy(), x0)
    assert abs(cal.loglik - loglik) < 1e-4
    np.testing.assert_allclose(cal.slope_intercept["a1"], x[:6], atol=1e-3)
    np.testing.assert_allclose(cal.slope_intercept["d"], x[6:12], atol=1e-3)
    assert cal.latent_mean["foc"] == pytest.approx(x[12], abs=1e-3)
    assert cal.latent_variance["foc"] == pytest.approx(math.exp(2 * x[13]), abs=2e-3)
    assert cal.latent_mean["ref"] == 0.0 and cal.latent_variance["ref"] == 1.0
    # SEs: inverse Hessian of the direct function (in (mean, log SD); the variance SE by the
    # delta method d var / d log sd = 2 var); relative tolerance 2%
    cov = np.linalg.inv(_hessian(f, x))
    np.testing.assert_allclose(cal.standard_errors["a1"], np.sqrt(np.diag(cov))[:6], rtol=0.02)
    np.testing.assert_allclose(cal.standard_errors["d"], np.sqrt(np.diag(cov))[6:12], rtol=0.02)
    assert cal.latent_mean_se["foc"] == pytest.approx(math.sqrt(cov[12, 12]), rel=0.02)
    var = math.exp(2 * x[13])
    assert cal.latent_variance_se["foc"] == pytest.approx(2 * var * math.sqrt(cov[13, 13]), rel=0.02)
    assert math.isnan(cal.latent_mean_se["ref"])
    # the covariance matrix is labelled (item, parameter, group)
    assert cal.covariance.loc[("i0", "a1", "*"), ("i0", "a1", "*")] == pytest.approx(
        cal.standard_errors.loc["i0", "a1"] ** 2)
    assert ("latent", "mean", "foc") in cal.covariance.index


def test_all_items_free_with_fixed_latent_equals_separate_calibrations():
    data, group = _two_groups(n=300)
    joint = calibrate(data, "2pl", group=group, reference="ref", invariance=[], estimate_latent=False, tol=1e-6)
    assert set(joint.freed) == set(PARAMS.index)
    sep = {g: calibrate(data[group == g], "2pl", tol=1e-6) for g in ("ref", "foc")}
    assert joint.loglik == pytest.approx(sep["ref"].loglik + sep["foc"].loglik, abs=1e-4)
    for g in ("ref", "foc"):
        np.testing.assert_allclose(joint.group_item_params[g].to_numpy(), sep[g].item_params.to_numpy(), atol=2e-3)
    assert joint.n_parameters == 24


def test_freeing_per_parameter_and_per_item():
    data, group = _two_groups(n=400)
    base = calibrate(data, "2pl", group=group, reference="ref")
    one = calibrate(data, "2pl", group=group, reference="ref", free={"i2": ["d"]})
    assert one.freed == {"i2": ("d",)}
    assert one.n_parameters == base.n_parameters + 1
    si = one.group_slope_intercept
    assert si["ref"].loc["i2", "a1"] == si["foc"].loc["i2", "a1"]
    assert si["ref"].loc["i2", "d"] != si["foc"].loc["i2", "d"]
    assert si["ref"].loc["i3", "d"] == si["foc"].loc["i3", "d"]
    assert one.loglik >= base.loglik - 1e-6
    items = calibrate(data, "2pl", group=group, reference="ref", free_items=["i1", "i4"])
    assert items.freed == {"i1": ("a1", "d"), "i4": ("a1", "d")}
    assert items.n_parameters == base.n_parameters + 4
    # mirt's vocabulary: slopes equal, intercepts free; then no item is fully equal and the
    # focal mean is not identified, so it stays at 0 while the variance is estimated
    slopes = calibrate(data, "2pl", group=group, reference="ref", invariance=["slopes"])
    assert set(slopes.freed) == set(PARAMS.index) and all(p == ("d",) for p in slopes.freed.values())
    assert slopes.latent_mean["foc"] == 0.0 and slopes.latent_variance["foc"] != 1.0
    anchored = calibrate(data, "2pl", group=group, reference="ref", invariance=["i0", "i1"])
    assert set(anchored.freed) == {"i2", "i3", "i4", "i5"}
    assert anchored.latent_mean["foc"] != 0.0


@pytest.mark.parametrize("missing", [0.0, 0.25])
def test_recovery_of_group_mean_and_variance(missing):
    rng = np.random.default_rng(3)
    params = pd.DataFrame({"a": rng.uniform(0.9, 2.0, 15), "b": rng.normal(0, 1, 15)},
                          index=[f"q{j:02d}" for j in range(15)])
    data, group = _two_groups(n=2500, mean=-0.6, sd=0.8, missing=missing, params=params, seed=11)
    cal = calibrate(data, "2pl", group=group, reference="ref")
    assert cal.converged
    assert cal.latent_mean["foc"] == pytest.approx(-0.6, abs=0.06)
    assert cal.latent_variance["foc"] == pytest.approx(0.64, abs=0.08)
    assert np.sqrt(np.mean((cal.item_params["a"] - params["a"]) ** 2)) < 0.1
    assert np.sqrt(np.mean((cal.item_params["b"] - params["b"]) ** 2)) < 0.1


def test_graded_three_groups_and_first_level_reference():
    params = pd.DataFrame({"a": [1.2, 1.6, 0.9, 1.4, 1.1], "b1": [-1.5, -1.0, -0.8, -1.2, -0.5],
                           "b2": [0.0, 0.2, 0.4, -0.1, 0.6], "b3": [1.2, 1.0, 1.5, 1.1, 1.8]},
                          index=list("vwxyz"))
    rng = np.random.default_rng(5)
    cal0 = Calibration.from_item_params(params, "graded", categories=(1, 2, 3, 4))
    parts = [simulate(cal0, 1500, theta=_exact_normal(rng, 1500, m, s), seed=rng)
             for m, s in [(0.0, 1.0), (0.4, 1.2), (-0.5, 0.9)]]
    for k, part in enumerate(parts):
        part.index = [f"g{k}_{i}" for i in range(len(part))]
    data = pd.concat(parts)
    group = pd.Categorical(["b"] * 1500 + ["c"] * 1500 + ["a"] * 1500, categories=["b", "c", "a"])
    cal = calibrate(data, "graded", group=group)
    assert cal.groups == ("b", "c", "a")
    np.testing.assert_allclose(cal.latent_mean.to_numpy(), [0.0, 0.4, -0.5], atol=0.08)
    np.testing.assert_allclose(cal.latent_variance.to_numpy(), [1.0, 1.44, 0.81], atol=0.15)
    assert cal.latent_mean.index.name == "group"
    # an explicit reference reorders the groups
    other = calibrate(data, "graded", group=group, reference="a")
    assert other.groups[0] == "a" and other.latent_mean["a"] == 0.0
    assert other.latent_mean["b"] == pytest.approx(0.5 / 0.9, abs=0.1)


def test_rasch_groups_estimate_every_variance():
    params = pd.DataFrame({"b": np.linspace(-1.5, 1.5, 8)}, index=[f"r{j}" for j in range(8)])
    params["a"] = 1.0
    data, group = _two_groups(n=1500, mean=0.3, sd=1.2, params=params, model="rasch", seed=2)
    cal = calibrate(data, "rasch", group=group, reference="ref")
    assert cal.latent_mean["ref"] == 0.0
    assert cal.latent_variance["ref"] == pytest.approx(1.0, abs=0.12)
    assert cal.latent_variance["foc"] == pytest.approx(1.44, abs=0.2)
    assert cal.latent_mean["foc"] == pytest.approx(0.3, abs=0.08)


def test_group_given_as_column_or_misaligned_series():
    data, group = _two_groups(n=200)
    by_series = calibrate(data, "2pl", group=group, reference="ref")
    shuffled = group.sample(frac=1.0, random_state=1)
    by_index = calibrate(data, "2pl", group=shuffled, reference="ref")
    assert by_index.loglik == pytest.approx(by_series.loglik, abs=1e-8)
    with_column = data.assign(sex=group.to_numpy())
    by_column = calibrate(with_column, "2pl", group="sex", reference="ref")
    assert by_column.item_ids == list(PARAMS.index)
    assert by_column.loglik == pytest.approx(by_series.loglik, abs=1e-8)


@pytest.mark.filterwarnings("ignore:.*gave no responses")
def test_person_without_responses_leaves_with_the_group_label():
    data, group = _two_groups(n=200)
    data.iloc[3] = np.nan
    with pytest.warns(DataWarning, match="answered no item"):
        cal = calibrate(data, "2pl", group=group, reference="ref")
    assert cal.n_persons == 399


def test_callback_for_session_and_result_helpers():
    data, group = _two_groups(n=200)
    seen = []
    cal = calibrate(data, "2pl", group=group, reference="ref", callback=lambda i, ll, ch: seen.append((i, ll, ch)))
    assert [s[0] for s in seen] == list(range(1, cal.n_iter + 1))
    assert seen[-1][2] < cal.tol
    ref = cal.for_group("ref")
    foc = cal.for_group("foc")
    assert not ref.is_multigroup and foc.latent_mean == pytest.approx(cal.latent_mean["foc"])
    pd.testing.assert_frame_equal(ref.item_params, foc.item_params)
    assert "groups (reference 'ref')" in cal.summary()
    with pytest.raises(ValueError, match="for_group"):
        cal.to_json()
    with pytest.raises(ValueError, match="not one of"):
        cal.for_group("nope")
    assert Calibration.from_json(foc.to_json()).latent_mean == pytest.approx(foc.latent_mean)


def test_bad_groups_raise_clear_errors():
    data, group = _two_groups(n=200)
    with pytest.raises(ResponseError, match="one level"):
        calibrate(data, "2pl", group=["x"] * len(data))
    with pytest.raises(ResponseError, match="399 entries but the responses have 400"):
        calibrate(data, "2pl", group=group.to_numpy()[:-1])
    labels = group.to_numpy().copy()
    labels[5] = None
    with pytest.raises(ResponseError, match=r"respondent 'p000006' \(row 5\) has no group label"):
        calibrate(data, "2pl", group=labels)
    small = group.copy()
    small.iloc[:30] = "tiny"
    with pytest.raises(ResponseError, match=rf"'tiny' \(30 persons\).*min_group_size={MIN_GROUP_SIZE}"):
        calibrate(data, "2pl", group=small)
    with pytest.raises(ResponseError, match="reference group 'nope'"):
        calibrate(data, "2pl", group=group, reference="nope")
    with pytest.raises(ResponseError, match="not a column"):
        calibrate(data, "2pl", group="sex")
    with pytest.raises(ValueError, match="invariance term"):
        calibrate(data, "2pl", group=group, invariance=["slope"])
    with pytest.raises(ValueError, match="not in the data"):
        calibrate(data, "2pl", group=group, free_items=["zz"])
    with pytest.raises(ValueError, match="has no parameter"):
        calibrate(data, "2pl", group=group, free={"i0": ["g"]})
    with pytest.raises(ValueError, match="shared across items"):
        calibrate(data, "1pl", group=group, free_items=["i0"])
    with pytest.raises(ValueError, match="need group="):
        calibrate(data, "2pl", free_items=["i0"])
    with pytest.raises(ValueError, match="needs fixed item parameters"):
        calibrate(data, "2pl", estimate_latent=True)
    with pytest.raises(ValueError, match="names group"):
        calibrate(data, "2pl", group=group, latent_mean={"zz": 1.0})


def test_single_group_with_fixed_anchors_estimates_mean_and_variance():
    rng = np.random.default_rng(9)
    params = pd.DataFrame({"a": rng.uniform(0.9, 2.0, 12), "b": rng.normal(0, 1, 12)},
                          index=[f"q{j:02d}" for j in range(12)])
    cal0 = Calibration.from_item_params(params, "2pl")
    data = simulate(cal0, 3000, theta=_exact_normal(rng, 3000, 0.7, 1.4), seed=rng)
    fixed = {i: {"a": params.loc[i, "a"], "b": params.loc[i, "b"]} for i in params.index[:6]}
    cal = calibrate(data, "2pl", fixed=fixed, estimate_latent=True, se=True)
    assert cal.latent_mean == pytest.approx(0.7, abs=0.06)
    assert cal.latent_variance == pytest.approx(1.96, abs=0.2)
    assert cal.latent_mean_se > 0 and cal.latent_variance_se > 0
    np.testing.assert_allclose(cal.item_params.loc[params.index[:6], "a"], params["a"][:6], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.sqrt(np.mean((cal.item_params["b"][6:] - params["b"][6:]) ** 2)) < 0.12


def test_freed_item_with_a_category_unused_in_one_group_warns():
    params = pd.DataFrame({"a": [1.2, 1.5, 0.9, 1.3], "b1": [-1.0, -0.5, -0.8, -1.2], "b2": [0.0, 0.3, 0.2, -0.1],
                           "b3": [1.0, 1.2, 1.1, 0.9]}, index=list("wxyz"))
    data = simulate(params, 600, model="graded", seed=1)
    group = np.r_[["A"] * 300, ["B"] * 300]
    data.loc[data.index[300:], "w"] = data.loc[data.index[300:], "w"].replace(0, 1)
    with pytest.warns(ModelWarning, match="item 'w' in group 'B': category 0"):
        calibrate(data, "graded", group=group, free_items=["w"])
