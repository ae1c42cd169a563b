"""Parallel analysis, Velicer's MAP, scree, KMO and Bartlett (psychometrics/factor/retention.py).

Reference numbers: tests/reference/factor_reference.csv from tests/reference/factor_reference.R
(psych 2.2.9: KMO, cortest.bartlett, vss()$map, fa.parallel with set.seed(1), n.iter = 200).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import EstimationError, ResponseError
from psychometrics.factor import bartlett, kmo, parallel_analysis, scree, velicer_map


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # data warnings about empty rows
        return function(*args, **kwargs)


# ------------------------------------------------------------------------- KMO / Bartlett

def test_kmo_matches_psych(factor_reference_values, factor_data):
    # psych::KMO(cont)
    result = kmo(factor_data("continuous"))
    assert result.overall == pytest.approx(factor_reference_values("kmo_overall").iloc[0], abs=1e-10)
    expected = factor_reference_values("kmo_items")
    np.testing.assert_allclose(result.per_item.loc[expected.index], expected, atol=1e-10)


def test_kmo_polychoric_matches_psych(factor_reference_values, factor_data):
    # psych::KMO(polychoric(ord)$rho)
    result = kmo(factor_data("ordinal"), correlation="polychoric")
    assert result.overall == pytest.approx(factor_reference_values("kmo_poly_overall").iloc[0], abs=1e-3)
    expected = factor_reference_values("kmo_poly_items")
    np.testing.assert_allclose(result.per_item.loc[expected.index], expected, atol=1e-3)
    assert "KMO" in result.summary()


def test_bartlett_matches_psych(factor_reference_values, factor_data):
    # psych::cortest.bartlett(cor(cont), n = 300)
    result = bartlett(factor_data("continuous"))
    expected = factor_reference_values("bartlett")
    assert result.chi2 == pytest.approx(expected["chi2"], rel=1e-10)
    assert result.df == expected["df"]
    assert result.p == pytest.approx(expected["p"], rel=1e-6)
    assert result.n_obs == 300


def test_bartlett_and_kmo_on_independent_items(rng):
    frame = pd.DataFrame(rng.standard_normal((500, 6)), columns=list("abcdef"))
    assert bartlett(frame).p > 0.001
    assert kmo(frame).overall < 0.6


def test_kmo_and_bartlett_with_missing_data(factor_data):
    frame = factor_data("ordinal_missing")
    complete = factor_data("ordinal")
    assert quiet(kmo, frame).overall == pytest.approx(kmo(complete).overall, abs=0.03)
    result = quiet(bartlett, frame)
    assert result.n_obs == len(frame)
    assert result.chi2 == pytest.approx(bartlett(complete).chi2, rel=0.15)
    smaller = quiet(bartlett, frame, n_obs=400)
    assert smaller.chi2 < result.chi2


def test_kmo_singular_matrix_raises(rng):
    x = rng.standard_normal((100, 3))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "d": x[:, 0] + x[:, 1]})
    with pytest.raises(EstimationError, match="singular"):
        kmo(frame)
    with pytest.raises(EstimationError, match="singular"):
        bartlett(frame)


# ------------------------------------------------------------------------- MAP and scree

def test_map_matches_psych(factor_reference_values, factor_data):
    # psych::vss(cont, n = 8)$map: psych starts at one component, we also report zero
    result = velicer_map(factor_data("continuous"))
    expected = factor_reference_values("map").to_numpy()
    np.testing.assert_allclose(result.average_partial.to_numpy()[1:9], expected, atol=1e-10)
    assert result.n_factors == 3


def test_map_with_missing_matches_psych(factor_reference_values, factor_data):
    # psych::vss(ordm, n = 6)$map, pairwise Pearson correlations
    result = quiet(velicer_map, factor_data("ordinal_missing"))
    np.testing.assert_allclose(result.average_partial.to_numpy()[1:7], factor_reference_values("map_missing").to_numpy(), atol=1e-10)


def test_map_bad_input(factor_data):
    with pytest.raises(ResponseError, match="at least 3"):
        velicer_map(pd.DataFrame({"a": [1.5, 2.5, 3.1, 4.0], "b": [1.1, 0.2, 3.3, 2.0]}))
    with pytest.raises(ValueError, match="max_factors"):
        velicer_map(factor_data("continuous"), max_factors=20)


def test_scree(factor_reference_values, factor_data):
    frame = scree(factor_data("continuous"))
    expected = factor_reference_values("parallel_pc_values").to_numpy()
    np.testing.assert_allclose(frame["pc"].to_numpy(), expected, atol=1e-10)
    assert frame["fa"].iloc[0] < frame["pc"].iloc[0]
    assert list(frame.index) == list(range(1, 13))


# ------------------------------------------------------------------------- parallel analysis

@pytest.fixture(scope="module")
def parallel(factor_data):
    return parallel_analysis(factor_data("continuous"), n_replications=60, seed=11)


def test_parallel_observed_eigenvalues_match_psych(parallel, factor_reference_values):
    # psych::fa.parallel(cont, fm = "minres", fa = "both")$fa.values / $pc.values
    np.testing.assert_allclose(parallel.observed_fa, factor_reference_values("parallel_fa_values").to_numpy(), atol=1e-5)
    np.testing.assert_allclose(parallel.observed_pc, factor_reference_values("parallel_pc_values").to_numpy(), atol=1e-10)


def test_parallel_reference_eigenvalues_agree_with_psych_statistically(parallel, factor_reference_values):
    # random data differ between R and numpy; the means over 60 and 200 replications agree
    # to within their Monte Carlo error (about 0.01 for the leading eigenvalues here)
    np.testing.assert_allclose(parallel.reference_pc, factor_reference_values("parallel_pc_sim").to_numpy(), atol=0.03)
    np.testing.assert_allclose(parallel.reference_fa, factor_reference_values("parallel_fa_sim").to_numpy(), atol=0.03)


def test_parallel_number_of_factors(parallel, factor_reference_values):
    expected = factor_reference_values("parallel_n")
    assert parallel.n_factors == expected["nfact"] == 3
    assert parallel.n_components == expected["ncomp"] == 3
    frame = parallel.to_frame()
    assert list(frame.columns) == ["observed_fa", "reference_fa", "observed_pc", "reference_pc"]
    assert parallel.simulated_fa.shape == (60, 12)


def test_parallel_is_reproducible_with_seed(factor_data):
    frame = factor_data("continuous")
    first = parallel_analysis(frame, n_replications=5, seed=3)
    second = parallel_analysis(frame, n_replications=5, seed=3)
    np.testing.assert_array_equal(first.simulated_pc, second.simulated_pc)


def test_parallel_quantile_is_stricter(parallel, factor_data):
    frame = factor_data("continuous")
    upper = parallel_analysis(frame, n_replications=60, seed=11, threshold="quantile")
    assert np.all(upper.reference_pc.to_numpy()[:3] >= parallel.reference_pc.to_numpy()[:3])


def test_parallel_polychoric_resample_recovers_structure(factor_data):
    # 9 ordinal items, three generating factors
    result = quiet(parallel_analysis, factor_data("ordinal"), n_replications=10, seed=5, correlation="polychoric",
                   data="resample")
    assert result.n_factors == 3


def test_parallel_with_missing_data(factor_data):
    result = quiet(parallel_analysis, factor_data("ordinal_missing"), n_replications=10, seed=5, data="resample")
    assert result.n_factors == 3
    assert np.isfinite(result.simulated_fa).all()


@pytest.mark.parametrize("kwargs, match", [({"n_replications": 0}, "n_replications"), ({"data": "bootstrap"}, "data"),
                                           ({"threshold": "median"}, "threshold"), ({"quantile": 1.5}, "quantile"),
                                           ({"correlation": "kendall"}, "correlation")])
def test_parallel_bad_settings(kwargs, match, factor_data):
    with pytest.raises(ValueError, match=match):
        parallel_analysis(factor_data("continuous"), **kwargs)
