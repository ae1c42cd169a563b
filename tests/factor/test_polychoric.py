"""Polychoric, tetrachoric and polyserial correlations (psychometrics/factor/polychoric.py).

Reference numbers: tests/reference/factor_reference.csv, written by
tests/reference/factor_reference.R (psych 2.2.9) from the seeded data of
tests/reference/factor_make_data.py.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from psychometrics.data import Responses
from psychometrics.errors import ModelWarning, ResponseError
from psychometrics.factor import bivariate_normal_cdf, polychoric, polyserial, smooth_correlation, tetrachoric


# ------------------------------------------------------------------------- bivariate normal

@pytest.mark.parametrize("rho", [-0.999, -0.95, -0.6, 0.0, 0.3, 0.8, 0.924, 0.926, 0.97, 0.9999])
def test_bivariate_normal_cdf_matches_scipy(rho):
    rng = np.random.default_rng(3)
    h, k = rng.normal(scale=1.5, size=(2, 25))
    ours = bivariate_normal_cdf(h, k, rho)
    theirs = np.array([multivariate_normal([0, 0], [[1, rho], [rho, 1]]).cdf([a, b]) for a, b in zip(h, k)])
    np.testing.assert_allclose(ours, theirs, atol=1e-7)  # scipy's own accuracy is about 1e-8


def test_bivariate_normal_cdf_infinite_limits():
    out = bivariate_normal_cdf([np.inf, -np.inf, 0.3, np.inf, 1.0], [0.2, 1.0, np.inf, np.inf, -np.inf], 0.5)
    np.testing.assert_allclose(out, [0.579259709439103, 0.0, 0.617911422188953, 1.0, 0.0], atol=1e-14)


# ------------------------------------------------------------------------- polychoric vs psych

@pytest.mark.parametrize("dataset, tag", [("ordinal", "poly"), ("ordinal_missing", "polym")])
def test_polychoric_matches_psych(dataset, tag, factor_reference, factor_data):
    # psych::polychoric(x) (global thresholds; psych's optimize() is accurate to ~1e-4)
    result = polychoric(factor_data(dataset))
    expected = factor_reference(f"{tag}_rho")
    np.testing.assert_allclose(result.correlation.loc[expected.index, expected.columns], expected, atol=1e-3)
    tau = factor_reference(f"{tag}_tau")
    np.testing.assert_allclose(result.thresholds.loc[tau.index].to_numpy(), tau.to_numpy(), atol=1e-10)
    assert not result.smoothed


def test_polychoric_missing_uses_pairwise_counts(factor_data):
    frame = factor_data("ordinal_missing")
    result = polychoric(frame)
    observed = frame.notna().astype(float)
    np.testing.assert_array_equal(result.n_pairs.to_numpy(), (observed.T @ observed).to_numpy())


def test_tetrachoric_matches_psych(factor_reference, factor_data):
    # psych::tetrachoric(x, correct = 0)
    result = tetrachoric(factor_data("binary"))
    expected = factor_reference("tet_rho")
    np.testing.assert_allclose(result.correlation.loc[expected.index, expected.columns], expected, atol=1e-3)
    tau = factor_reference("tet_tau")
    np.testing.assert_allclose(result.thresholds["t1"].loc[tau.index].to_numpy(), tau.to_numpy()[:, 0], atol=1e-10)


def test_polyserial_matches_psych(factor_reference, factor_data):
    # psych::polyserial(cont[, 1:2], findInterval(cont[, 3:5], c(-1, 0, 1)) + 1)
    cont = factor_data("continuous")
    ordinal = pd.DataFrame(np.digitize(cont.iloc[:, 2:5].to_numpy(), [-1, 0, 1]) + 1, columns=cont.columns[2:5])
    result = polyserial(cont.iloc[:, :2], ordinal)
    expected = factor_reference("polyserial").T  # psych returns ordinal items as rows
    np.testing.assert_allclose(result.loc[expected.index, expected.columns], expected, atol=1e-6)


def test_smooth_correlation_matches_cor_smooth(factor_reference):
    # psych::cor.smooth(matrix(c(1, .9, .2, .9, 1, .8, .2, .8, 1), 3, 3))
    smoothed, changed = smooth_correlation(factor_reference("smooth_input").to_numpy())
    assert changed
    np.testing.assert_allclose(smoothed, factor_reference("smooth_output").to_numpy(), atol=1e-8)
    same, changed = smooth_correlation(np.eye(3))
    assert not changed and np.array_equal(same, np.eye(3))


# ------------------------------------------------------------------------- simulated data

def _simulate(rng, n, rho, cuts):
    z = rng.multivariate_normal(np.zeros(len(rho)), rho, size=n)
    return pd.DataFrame(np.digitize(z, cuts) + 1, columns=[f"i{j + 1}" for j in range(len(rho))])


def test_polychoric_recovers_generating_correlations(rng):
    truth = np.array([[1, .6, .3, -.4], [.6, 1, .5, -.2], [.3, .5, 1, 0], [-.4, -.2, 0, 1]])
    frame = _simulate(rng, 20000, truth, [-1.2, -0.3, 0.5, 1.4])
    result = polychoric(frame)
    np.testing.assert_allclose(result.correlation.to_numpy(), truth, atol=0.03)
    np.testing.assert_allclose(result.thresholds.to_numpy(), np.tile([-1.2, -0.3, 0.5, 1.4], (4, 1)), atol=0.05)


def test_unequal_categories_and_unused_codes(rng):
    truth = np.array([[1, .5, .4], [.5, 1, .3], [.4, .3, 1]])
    z = rng.multivariate_normal(np.zeros(3), truth, size=8000)
    frame = pd.DataFrame({"a": np.digitize(z[:, 0], [0.0]) + 1,          # two categories
                          "b": np.digitize(z[:, 1], [-1, 0, 1]) * 2 + 1,  # codes 1, 3, 5, 7
                          "c": np.digitize(z[:, 2], [-0.5, 0.5]) + 1})
    result = polychoric(frame)
    np.testing.assert_allclose(result.correlation.to_numpy(), truth, atol=0.05)
    assert result.thresholds.loc["a"].isna().sum() == 2  # padded to the widest item


def test_high_correlation_converges(rng):
    truth = np.array([[1, .97], [.97, 1]])
    frame = _simulate(rng, 5000, truth, [-1, 0, 1])
    assert polychoric(frame).correlation.iloc[0, 1] == pytest.approx(0.97, abs=0.01)


@pytest.mark.filterwarnings("ignore:.*gave no responses:psychometrics.errors.DataWarning")
def test_missing_data_close_to_complete(rng):
    truth = np.array([[1, .5, .4], [.5, 1, .45], [.4, .45, 1]])
    frame = _simulate(rng, 6000, truth, [-1, 0, 1])
    holes = frame.astype(float).mask(rng.random(frame.shape) < 0.2)
    complete = polychoric(frame).correlation.to_numpy()
    partial = polychoric(holes).correlation.to_numpy()
    np.testing.assert_allclose(partial, complete, atol=0.04)


def test_not_positive_definite_is_smoothed_with_warning(rng):
    # three items on nearly disjoint respondents can produce an inconsistent matrix
    z = rng.multivariate_normal(np.zeros(2), [[1, .9], [.9, 1]], size=3000)
    a = np.digitize(z[:, 0], [-0.5, 0.5]) + 1.0
    b = np.digitize(z[:, 1], [-0.5, 0.5]) + 1.0
    c = np.where(np.arange(3000) < 1500, a, 4 - b).astype(float)  # c = a for half, reversed b for the rest
    frame = pd.DataFrame({"a": a, "b": b, "c": c})
    frame.loc[:1499, "b"] = np.nan
    frame.loc[1500:, "a"] = np.nan
    frame.loc[:99, "b"] = b[:100]
    frame.loc[1500:1599, "a"] = a[1500:1600]
    with pytest.warns(ModelWarning, match="not positive definite"):
        result = polychoric(frame)
    assert result.smoothed
    assert np.linalg.eigvalsh(result.correlation.to_numpy()).min() > 0
    raw = polychoric(frame, smooth=False)
    assert np.linalg.eigvalsh(raw.correlation.to_numpy()).min() < 0


def test_accepts_responses_and_ndarray(rng):
    frame = _simulate(rng, 500, np.array([[1, .5], [.5, 1]]), [-1, 0, 1])
    expected = polychoric(frame).correlation.to_numpy()
    np.testing.assert_allclose(polychoric(frame.to_numpy()).correlation.to_numpy(), expected)
    responses = Responses(frame.astype(float), {c: (1, 2, 3, 4) for c in frame.columns})
    np.testing.assert_allclose(polychoric(responses).correlation.to_numpy(), expected)


# ------------------------------------------------------------------------- bad input

@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_constant_item_is_named():
    frame = pd.DataFrame({"a": [1, 2, 3, 1, 2], "b": [2, 2, 2, 2, 2], "c": [1, 1, 2, 3, 3]})
    with pytest.raises(ResponseError, match="item 'b'"):
        polychoric(frame)


def test_too_many_categories():
    frame = pd.DataFrame({"a": np.arange(40) % 20, "b": np.arange(40) % 3})
    with pytest.raises(ResponseError, match="item 'a'.*max_categories"):
        polychoric(frame)


def test_tetrachoric_rejects_polytomous():
    frame = pd.DataFrame({"a": [0, 1, 0, 1, 1], "b": [0, 1, 2, 1, 0]})
    with pytest.raises(ResponseError, match="dichotomous"):
        tetrachoric(frame)


@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_pair_without_common_respondents():
    frame = pd.DataFrame({"a": [1, 2, 1, 2, np.nan, np.nan, np.nan, np.nan],
                          "b": [np.nan, np.nan, np.nan, np.nan, 1, 2, 2, 1],
                          "c": [1, 2, 2, 1, 1, 2, 1, 2]})
    with pytest.raises(ResponseError, match="'a' and 'b' have no respondent in common"):
        polychoric(frame)


def test_single_item_and_non_numeric():
    with pytest.raises(ResponseError, match="at least two items"):
        polychoric(pd.DataFrame({"a": [1, 2, 3]}))
    with pytest.raises(ResponseError):
        polychoric(pd.DataFrame({"a": [1, 2, "x"], "b": [1, 2, 1]}))


def test_polyserial_bad_input():
    ordinal = pd.DataFrame({"y": [1, 2, 3, 1, 2, 3]})
    with pytest.raises(ResponseError, match="rows"):
        polyserial(np.arange(5.0), ordinal)
    with pytest.raises(ResponseError, match="constant"):
        polyserial(np.ones(6), ordinal)


def test_moderate_size_without_warnings(rng):
    # 20 items x 20,000 persons: no pair is flagged. Its time (and the 50 x 100,000 target) is
    # measured by benchmarks/polychoric.py, not asserted here
    truth = np.full((20, 20), 0.4)
    np.fill_diagonal(truth, 1.0)
    frame = _simulate(rng, 20000, truth, [-1, -0.3, 0.4, 1.1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        polychoric(frame)


def test_asymptotic_covariance_is_the_outer_product_of_influences(rng, monkeypatch):
    """Gamma = N sum_i g_i g_i^T with g from the formula written out per person and pair
    (Muthen 1984; lavaan's muthen1984): checks the batching by category shape, the
    "missing" row and column of the tables and the blocked rank-k update."""
    module = importlib.import_module("psychometrics.factor.polychoric")
    n, k = 300, [3, 4, 2, 4]
    latent = rng.multivariate_normal(np.zeros(4), 0.5 + 0.5 * np.eye(4), size=n)
    codes = [np.digitize(latent[:, j], np.linspace(-1.0, 1.0, k[j] - 1)) for j in range(4)]
    for j in range(4):
        codes[j][rng.random(n) < 0.1] = -1
    fit = polychoric(pd.DataFrame({f"x{j}": np.where(codes[j] >= 0, codes[j], np.nan) for j in range(4)}),
                     smooth=False)
    corr = fit.correlation.to_numpy()
    thresholds = [fit.thresholds.to_numpy()[j, : k[j] - 1] for j in range(4)]
    monkeypatch.setattr(module, "_INFLUENCE_BLOCK", 6 * 7)  # blocks of 7 persons
    gamma = module.asymptotic_covariance(codes, k, corr, thresholds)

    def univariate(j):
        bounds = np.r_[-module._BIG, thresholds[j], module._BIG]
        prob = np.diff(module.special.ndtr(bounds))
        dens = module._normal_pdf(bounds)
        u = np.zeros((k[j], k[j] - 1))
        for t in range(k[j] - 1):
            u[t, t], u[t + 1, t] = dens[t + 1] / prob[t], -dens[t + 1] / prob[t + 1]
        seen = codes[j] >= 0
        info = sum(np.outer(u[c], u[c]) for c in codes[j][seen])
        return u, np.linalg.inv(info)

    influence = np.zeros((n, 6))
    for pair, (j, l) in enumerate(zip(*np.tril_indices(4, -1))):
        _, score, dth_j, dth_l = module._cell_scores(thresholds[j][None], thresholds[l][None], corr[[j], [l]])
        both = (codes[j] >= 0) & (codes[l] >= 0)
        a, b = codes[j][both], codes[l][both]
        a22 = np.sum(score[0, a, b] ** 2)
        a21_j = (score[0, a, b, None] * dth_j[0, a, b]).sum(axis=0)
        a21_l = (score[0, a, b, None] * dth_l[0, a, b]).sum(axis=0)
        (u_j, inv_j), (u_l, inv_l) = univariate(j), univariate(l)
        for i in range(n):
            x, y = codes[j][i], codes[l][i]
            g = score[0, x, y] if x >= 0 and y >= 0 else 0.0
            g -= u_j[x] @ inv_j @ a21_j if x >= 0 else 0.0
            g -= u_l[y] @ inv_l @ a21_l if y >= 0 else 0.0
            influence[i, pair] = g / a22
    expected = n * influence.T @ influence
    np.testing.assert_allclose(gamma, expected, rtol=1e-10, atol=1e-12)
    # the single-precision Gram of large problems (blocks of 3 persons on the threads here):
    # the diagonal (the DWLS weights) to rounding, the rest to single precision
    monkeypatch.setattr(module, "_SINGLE_FROM", 0)
    single = module.asymptotic_covariance(codes, k, corr, thresholds)
    np.testing.assert_allclose(np.diag(single), np.diag(expected), rtol=1e-12)
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    np.testing.assert_allclose(single / scale, expected / scale, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(single, single.T)


def test_lookup_recoding_equals_category_index(rng):
    module = importlib.import_module("psychometrics.factor.polychoric")
    from psychometrics.data import category_index

    columns = [np.where(rng.random(200) < 0.1, np.nan, rng.integers(-3, 4, 200).astype(float)),
               np.array([5.0, 1.0, 5.0, 3.0]), np.array([np.nan, np.nan]), np.array([0.5, 1.0, 0.5]),
               np.array([1.0, 1e6, 1.0])]
    for column in columns:
        index, levels = module._observed_levels(column)
        expected_index, expected_levels = category_index(column)
        np.testing.assert_array_equal(index, expected_index)
        np.testing.assert_array_equal(levels, expected_levels)
        assert index.dtype == expected_index.dtype and levels.dtype == expected_levels.dtype
