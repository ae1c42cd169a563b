"""Unidimensionality check per scale (psychometrics/factor/dimensionality.py).

Reference numbers: tests/reference/factor_reference.csv from tests/reference/factor_reference.R:
psych 2.2.9 ``polychoric`` / ``omega(ord, 3, poly = TRUE)`` and lavaan
``cfa(..., ordered = TRUE, estimator = "WLSMV")`` fit measures (cfi.scaled, tli.scaled,
rmsea.scaled, srmr), on the seeded data of tests/reference/factor_make_data.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import ModelWarning, ResponseError
from psychometrics.factor import check_unidimensionality, unidimensionality

ITEMS = [f"q{j}" for j in range(1, 10)]


@pytest.fixture(scope="module")
def checked(factor_data):
    return unidimensionality(factor_data("ordinal"), {"A": ["q1", "q2", "q3", "q4"], "B": ITEMS[:5], "all": ITEMS})


def test_eigenvalues_match_psych_polychoric(checked, factor_reference):
    rho = factor_reference("poly_rho")
    for scale, members in {"A": ["q1", "q2", "q3", "q4"], "all": ITEMS}.items():
        values = np.sort(np.linalg.eigvalsh(rho.loc[members, members].to_numpy()))[::-1]
        row = checked.table.loc[scale]
        assert row["eigenvalue_1"] == pytest.approx(values[0], abs=1e-3)
        assert row["eigenvalue_2"] == pytest.approx(values[1], abs=1e-3)
        assert row["eigenvalue_ratio"] == pytest.approx(values[0] / values[1], abs=1e-2)


@pytest.mark.parametrize("scale, tag", [("all", "uni_ss_all"), ("B", "uni_ss_b")])
def test_ecv_matches_psych_unrotated_solution(checked, scale, tag, factor_reference):
    # SS loadings of psych::fa(polychoric(items)$rho, m, rotate = "none"): first / total
    squares = factor_reference(tag).iloc[:, 0].to_numpy()
    assert checked.table.loc[scale, "ecv"] == pytest.approx(squares[0] / squares.sum(), abs=1e-3)
    assert np.isnan(checked.table.loc["A", "ecv"])  # four items: two factors not identified


@pytest.mark.parametrize("scale, tag", [("all", "uni_cfa_all"), ("A", "uni_cfa_a")])
def test_cfa_fit_matches_lavaan(checked, scale, tag, factor_reference):
    expected = factor_reference(tag).iloc[:, 0]
    row = checked.table.loc[scale]
    assert row["cfi"] == pytest.approx(expected["cfi.scaled"], abs=1e-3)
    assert row["tli"] == pytest.approx(expected["tli.scaled"], abs=1e-3)
    assert row["rmsea"] == pytest.approx(expected["rmsea.scaled"], abs=1e-3)
    assert row["srmr"] == pytest.approx(expected["srmr"], abs=1e-3)


def test_three_factor_data_is_flagged(checked):
    assert checked.multidimensional == ["A", "B", "all"]  # A and B mix in the second factor
    assert "ECV" in checked.table.loc["all", "reasons"]
    assert "Unidimensionality" in checked.summary()


def _one_factor(rng, n_persons=1500, n_items=8, loading=0.75):
    z = rng.standard_normal((n_persons, 1)) * loading + rng.standard_normal((n_persons, n_items)) * np.sqrt(
        1 - loading ** 2)
    return pd.DataFrame(np.digitize(z, [-1.0, -0.2, 0.6, 1.4]) + 1, columns=[f"u{j + 1}" for j in range(n_items)])


def test_unidimensional_scale_passes(rng):
    frame = _one_factor(rng)
    result = unidimensionality(frame)
    row = result.table.loc["all items"]
    assert bool(row["unidimensional"]), row["reasons"]
    assert row["eigenvalue_ratio"] > 5
    assert row["ecv"] > 0.7
    assert row["cfi"] > 0.98


def test_missing_data(rng):
    frame = _one_factor(rng).astype(float)
    holes = frame.mask(rng.random(frame.shape) < 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = unidimensionality(holes)
    assert bool(result.table.loc["all items", "unidimensional"])


def test_pearson_and_ml(rng):
    z = rng.standard_normal((800, 1)) * 0.7 + rng.standard_normal((800, 6)) * 0.71
    frame = pd.DataFrame(z, columns=list("abcdef"))
    result = unidimensionality(frame, correlation="pearson")
    assert bool(result.table.iloc[0]["unidimensional"])


def test_check_warns_for_each_failing_scale(factor_data):
    with pytest.warns(ModelWarning, match="scale 'all' may not be unidimensional"):
        check_unidimensionality(factor_data("ordinal"), {"all": ITEMS, "F1": ["q1", "q2", "q3"]}, min_ratio=2.0)


def test_bad_input(factor_data):
    frame = factor_data("ordinal")
    with pytest.raises(ResponseError, match="scale 'x'.*'nope'"):
        unidimensionality(frame, {"x": ["q1", "q2", "nope"]})
    with pytest.raises(ResponseError, match="at least 3"):
        unidimensionality(frame, {"x": ["q1", "q2"]})
    with pytest.raises(ValueError, match="correlation"):
        unidimensionality(frame, correlation="kendall")
    with pytest.raises(ValueError, match="estimator"):
        unidimensionality(frame, estimator="wls")
    with pytest.raises(ValueError, match="scales"):
        unidimensionality(frame, scales={})
