"""Exploratory factor analysis (psychometrics/factor/efa.py).

Reference numbers: tests/reference/factor_reference.csv from tests/reference/factor_reference.R
(psych 2.2.9 ``fa``, GPArotation) on the seeded data of tests/reference/factor_make_data.py.
psych keeps the extraction names of factors after ordering them (MR1, MR3, MR2); the columns
here are compared by position.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import ModelWarning, ResponseError
from psychometrics.factor import efa, rotate
from psychometrics.factor.efa import EFAResult


def stats(frame: pd.DataFrame) -> pd.Series:
    """The one column of a reference block of fit statistics, indexed by statistic."""
    series = frame.iloc[:, 0]
    series.index = [i.split(".")[0] for i in series.index]
    return series


CASES = [
    # tag, data set, n_factors, method, rotation, correlation   (R call in factor_reference.R)
    ("fa_minres_oblimin", "continuous", 3, "minres", "oblimin", "pearson"),
    ("fa_ml_varimax", "continuous", 3, "ml", "varimax", "pearson"),
    ("fa_pa_promax", "continuous", 3, "pa", "promax", "pearson"),
    ("fa_minres_geomin", "continuous", 3, "minres", "geomin", "pearson"),
    ("fa_minres_bifactor", "continuous", 4, "minres", "bifactor", "pearson"),
    ("fa_ml_quartimax", "continuous", 3, "ml", "quartimax", "pearson"),
    ("fa_poly_oblimin", "ordinal", 3, "minres", "oblimin", "polychoric"),
    ("fa_missing_oblimin", "ordinal_missing", 3, "minres", "oblimin", "pearson"),
    ("fa_polymissing_ml", "ordinal_missing", 3, "ml", "oblimin", "polychoric"),
    ("fa_one", "continuous", 1, "minres", "oblimin", "pearson"),
    ("fa_minres_biquartimin", "continuous", 4, "minres", "biquartimin", "pearson"),
    ("fa_ml_geominT", "continuous", 3, "ml", "geomin_ort", "pearson"),
]


@pytest.fixture(scope="module")
def fitted(factor_data) -> dict[str, EFAResult]:
    frames = {name: factor_data(name) for name in ("continuous", "ordinal", "ordinal_missing")}
    out = {}
    for tag, name, k, method, rotation, correlation in CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # data warnings about sparse rows
            out[tag] = efa(frames[name], k, method=method, rotation=rotation, correlation=correlation)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_loadings_match_psych(fitted, case, factor_reference):
    tag = case[0]
    result = fitted[tag]
    expected = factor_reference(f"{tag}_loadings")
    np.testing.assert_allclose(result.loadings.loc[expected.index].to_numpy(), expected.to_numpy(), atol=1e-2)
    # the agreement is in fact much closer than the 1e-2 the issue asks for
    np.testing.assert_allclose(result.loadings.loc[expected.index].to_numpy(), expected.to_numpy(), atol=2e-4)
    communality = factor_reference(f"{tag}_communality").iloc[:, 0]
    np.testing.assert_allclose(result.communalities.loc[communality.index], communality, atol=1e-3)
    uniqueness = factor_reference(f"{tag}_uniquenesses").iloc[:, 0]
    np.testing.assert_allclose(result.uniquenesses.loc[uniqueness.index], uniqueness, atol=1e-3)
    variance = factor_reference(f"{tag}_vaccounted")
    np.testing.assert_allclose(result.variance.to_numpy()[: len(variance)], variance.to_numpy(), atol=1e-3)


OBLIQUE_CASES = [c for c in CASES if c[4] in ("oblimin", "geomin", "promax", "biquartimin") and c[2] > 1]


@pytest.mark.parametrize("case", OBLIQUE_CASES, ids=lambda c: c[0])
def test_factor_correlations_match_psych(fitted, case, factor_reference):
    expected = factor_reference(f"{case[0]}_phi")
    np.testing.assert_allclose(fitted[case[0]].factor_correlations.to_numpy(), expected.to_numpy(), atol=1e-2)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fit_indices_match_psych(fitted, case, factor_reference):
    tag = case[0]
    result = fitted[tag]
    expected = stats(factor_reference(f"{tag}_stats"))
    assert result.df == expected["df"]
    # polychoric-based fits inherit the ~1e-5 polychoric differences: chi2 scaled by n
    chi_tol = 1e-2 if case[5] == "polychoric" else 1e-3
    assert result.chi2 == pytest.approx(expected["chi2"], abs=chi_tol)
    assert result.bic == pytest.approx(expected["bic"], abs=chi_tol)
    assert result.objective == pytest.approx(expected["objective"], abs=1e-5)
    assert result.tli == pytest.approx(expected["tli"], abs=1e-3)
    assert result.rmsea == pytest.approx(expected["rmsea"], abs=1e-3)
    assert result.rmsea_ci[0] == pytest.approx(expected["rmsea_low"], abs=1e-3)
    assert result.rmsea_ci[1] == pytest.approx(expected["rmsea_high"], abs=1e-3)
    assert result.rms == pytest.approx(expected["rms"], abs=1e-3)
    assert result.crms == pytest.approx(expected["crms"], abs=1e-3)
    assert result.p == pytest.approx(expected["p"], abs=1e-3)
    assert result.null_chi2 == pytest.approx(expected["null_chi2"], rel=1e-4)


def test_result_shapes_and_frames(fitted):
    result = fitted["fa_minres_oblimin"]
    assert list(result.loadings.columns) == ["MR1", "MR2", "MR3"]
    frame = result.to_frame()
    assert list(frame.columns[-3:]) == ["h2", "u2", "complexity"]
    np.testing.assert_allclose(frame["h2"] + frame["u2"], 1.0)
    assert "TLI" in result.summary()
    np.testing.assert_allclose(result.structure, result.loadings.to_numpy() @ result.factor_correlations.to_numpy())
    orthogonal = fitted["fa_ml_varimax"]
    np.testing.assert_allclose(orthogonal.factor_correlations, np.eye(3), atol=1e-12)
    assert orthogonal.heywood == ()


# ------------------------------------------------------------------------- simulated recovery

def _simple_structure(rng, n, loadings, phi):
    k = loadings.shape[1]
    factors = rng.multivariate_normal(np.zeros(k), phi, size=n)
    unique = np.sqrt(1 - np.einsum("ij,jk,ik->i", loadings, phi, loadings))
    z = factors @ loadings.T + rng.standard_normal((n, loadings.shape[0])) * unique
    return pd.DataFrame(z, columns=[f"v{j + 1}" for j in range(loadings.shape[0])])


@pytest.mark.parametrize("method", ["minres", "ml", "pa"])
def test_recovers_known_loadings(rng, method):
    loadings = np.zeros((12, 3))
    for g in range(3):
        loadings[4 * g:4 * g + 4, g] = [0.8, 0.7, 0.6, 0.5]
    phi = np.array([[1, .3, .2], [.3, 1, .25], [.2, .25, 1]])
    frame = _simple_structure(rng, 5000, loadings, phi)
    result = efa(frame, 3, method=method, rotation="oblimin")
    estimate = result.loadings.to_numpy()
    # match estimated factors to true ones by their largest loadings
    order = [int(np.argmax(np.abs(estimate[4 * g:4 * g + 4]).sum(axis=0))) for g in range(3)]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(estimate[:, order], loadings, atol=0.06)
    np.testing.assert_allclose(result.factor_correlations.to_numpy()[np.ix_(order, order)], phi, atol=0.06)


def test_ordinal_items_with_polychoric(rng):
    loadings = np.zeros((8, 2))
    loadings[:4, 0] = 0.75
    loadings[4:, 1] = 0.7
    frame = _simple_structure(rng, 4000, loadings, np.array([[1, .4], [.4, 1]]))
    ordinal = pd.DataFrame(np.digitize(frame.to_numpy(), [-1.0, 0.0, 0.8]) + 1, columns=frame.columns)
    polychoric_fit = efa(ordinal, 2, correlation="polychoric")
    pearson_fit = efa(ordinal, 2, correlation="pearson")
    strongest = np.abs(polychoric_fit.loadings.to_numpy()).max(axis=1)
    np.testing.assert_allclose(strongest, [0.75] * 4 + [0.7] * 4, atol=0.06)
    # coarse categories attenuate Pearson loadings; polychoric ones are not attenuated
    assert strongest.mean() > np.abs(pearson_fit.loadings.to_numpy()).max(axis=1).mean() + 0.03


def test_missing_data_close_to_complete(rng):
    loadings = np.zeros((9, 3))
    for g in range(3):
        loadings[3 * g:3 * g + 3, g] = 0.7
    frame = _simple_structure(rng, 3000, loadings, np.eye(3))
    holes = frame.mask(rng.random(frame.shape) < 0.15)
    complete = efa(frame, 3, rotation="varimax").loadings.to_numpy()
    partial = efa(holes, 3, rotation="varimax").loadings.to_numpy()
    order = [int(np.argmax(np.abs(partial[:, [c]] * complete).sum(axis=0))) for c in range(3)]
    np.testing.assert_allclose(np.abs(partial), np.abs(complete[:, order]), atol=0.06)


def test_heywood_case_is_reported(rng):
    factor = rng.standard_normal(400)
    frame = pd.DataFrame({"a": factor + rng.standard_normal(400) * 0.01, "b": factor + rng.standard_normal(400),
                          "c": factor + rng.standard_normal(400), "d": rng.standard_normal(400) + 0.5 * factor})
    with pytest.warns(ModelWarning, match="Heywood"):
        result = efa(frame, 1, method="ml")
    assert result.heywood == ("a",)


# ------------------------------------------------------------------------- rotation engine

def test_factor_analyzer_rotator_agrees_and_fit_is_not_used(rng):
    # FactorAnalyzer.fit breaks with scikit-learn >= 1.8 (check_array(force_all_finite=...)),
    # so efa uses only the extraction here and factor-analyzer's Rotator (varimax); the
    # oblique gradient-projection rotation must agree with Rotator's oblimin.
    from factor_analyzer.rotator import Rotator

    loadings = np.array([[.7, .3], [.6, .35], [.65, .2], [.3, .6], [.2, .7], [.25, .55]])
    ours, phi, _, converged = rotate(loadings, "oblimin")
    rotator = Rotator(method="oblimin")
    theirs = rotator.fit_transform(loadings)
    assert converged
    # same optimum up to column order and sign
    match = np.abs(ours.T @ theirs).argmax(axis=1)
    signs = np.sign(np.sum(ours * theirs[:, match], axis=0))
    np.testing.assert_allclose(ours, theirs[:, match] * signs, atol=1e-3)
    np.testing.assert_allclose(loadings @ loadings.T, ours @ phi @ ours.T, atol=1e-10)


def test_factor_analyzer_fit_limitation_is_pinned():
    # If this starts passing, FactorAnalyzer.fit works again with the installed scikit-learn
    # and could be used; until then efa must not call it.
    import sklearn
    from factor_analyzer import FactorAnalyzer

    frame = np.random.default_rng(0).standard_normal((50, 4))
    major, minor = (int(x) for x in sklearn.__version__.split(".")[:2])
    if (major, minor) < (1, 8):
        pytest.skip("scikit-learn older than 1.8 still accepts force_all_finite")
    with pytest.raises(TypeError):
        FactorAnalyzer(n_factors=1, rotation=None).fit(frame)


@pytest.mark.parametrize("rotation", ["varimax", "quartimax", "geomin_ort", "oblimin", "quartimin",
                                      "geomin", "promax"])
def test_rotations_preserve_the_model(rotation):
    loadings = np.array([[.7, .3, .1], [.6, .35, .05], [.65, .2, .2], [.3, .6, .1], [.2, .7, .15],
                         [.25, .55, .3], [.1, .2, .7], [.15, .1, .6]])
    pattern, phi, _, _ = rotate(loadings, rotation)
    np.testing.assert_allclose(pattern @ phi @ pattern.T, loadings @ loadings.T, atol=1e-8)
    np.testing.assert_allclose(np.diag(phi), 1.0, atol=1e-10)


# ------------------------------------------------------------------------- bad input

def test_bad_settings(factor_data):
    frame = factor_data("continuous")
    with pytest.raises(ValueError, match="n_factors"):
        efa(frame, 0)
    with pytest.raises(ValueError, match="too many"):
        efa(frame, 12)
    with pytest.raises(ValueError, match="method"):
        efa(frame, 2, method="alpha")
    with pytest.raises(ValueError, match="rotation"):
        efa(frame, 2, rotation="simplimax")
    with pytest.raises(ValueError, match="bifactor"):
        efa(frame, 2, rotation="bifactor")
    with pytest.raises(ValueError, match="correlation"):
        efa(frame, 2, correlation="spearman")


def test_bad_data_is_named(factor_data):
    frame = factor_data("continuous").iloc[:50, :4].astype(object)
    frame.iloc[3, 2] = "oops"
    with pytest.raises(ResponseError, match=r"row 3\), item 'x3'"):
        efa(frame, 1)
    constant = factor_data("continuous").iloc[:50, :4].copy()
    constant["x2"] = 1.5
    with pytest.raises(ResponseError, match="'x2'.*no variance"):
        efa(constant, 1)
    with pytest.raises(ResponseError):
        efa(factor_data("continuous").iloc[:, :4].to_numpy()[:, :1], 1)


# ------------------------------------------------------------------------- Holzinger & Swineford

def test_holzinger_swineford_matches_psych(shared_data, factor_reference):
    # psych::fa(hs[, x1..x9], 3, fm = "ml", rotate = "oblimin"), KMO, cortest.bartlett, omega
    # (factor_reference.R reads the shared copy of the data set)
    from psychometrics.factor import bartlett, kmo, omega

    frame = pd.read_csv(shared_data / "HolzingerSwineford1939.csv")[[f"x{j}" for j in range(1, 10)]]
    result = efa(frame, 3, method="ml", rotation="oblimin")
    expected = factor_reference("hs_ml_oblimin_loadings")
    np.testing.assert_allclose(result.loadings.loc[expected.index].to_numpy(), expected.to_numpy(), atol=1e-2)
    np.testing.assert_allclose(result.factor_correlations.to_numpy(), factor_reference("hs_ml_oblimin_phi").to_numpy(),
                               atol=1e-2)
    fit = stats(factor_reference("hs_ml_oblimin_stats"))
    assert result.chi2 == pytest.approx(fit["chi2"], abs=1e-3)
    assert result.df == fit["df"] == 12
    assert result.tli == pytest.approx(fit["tli"], abs=1e-3)
    assert result.rmsea == pytest.approx(fit["rmsea"], abs=1e-3)
    assert result.bic == pytest.approx(fit["bic"], abs=1e-3)
    msa = factor_reference("hs_kmo").iloc[:, 0]
    measure = kmo(frame)
    assert measure.overall == pytest.approx(msa["overall"], abs=1e-8)
    np.testing.assert_allclose(measure.per_item.to_numpy(), msa.iloc[1:].to_numpy(), atol=1e-8)
    sphericity = factor_reference("hs_bartlett").iloc[:, 0]
    assert bartlett(frame).chi2 == pytest.approx(sphericity["chi2"], rel=1e-10)
    coefficients = factor_reference("hs_omega").iloc[:, 0]
    reliability = omega(frame, 3)
    assert reliability.hierarchical == pytest.approx(coefficients["omega_h"], abs=1e-3)
    assert reliability.total == pytest.approx(coefficients["omega_total"], abs=1e-3)
