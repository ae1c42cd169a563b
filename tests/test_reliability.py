"""Tests of psychometrics.reliability.

Reference numbers come from R's psych 2.2.9 on tests/reference/likert_500x8.csv (500
simulated persons x 8 five-point items, 5% missing, made by generate_likert.py); the R
calls are in tests/reference/psych_reliability.R and their full output in
psych_reliability.out. SAT12 numbers: tests/reference/psych_sat12.R (output psych_sat12.out).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from psychometrics import _covariance
from psychometrics import reliability
from psychometrics.data import Responses
from psychometrics.errors import DataWarning, ModelWarning, ResponseError
from psychometrics.reliability import alpha, guttman, sem, spearman_brown, split_half

REFERENCE = Path(__file__).parent / "reference"
TOL = 1e-9  # psych and this package compute the same closed forms in double precision


@pytest.fixture(scope="module")
def likert() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "likert_500x8.csv", index_col=0)


def simulate(rng: np.random.Generator, n_persons: int, n_items: int, loading: float = 0.7,
             missing: float = 0.0) -> pd.DataFrame:
    """Integer codes round(5 (loading * theta + e)) + 50 of tau-equivalent items."""
    theta = rng.standard_normal(n_persons)
    x = np.rint(SCALE * (loading * theta[:, None] + rng.standard_normal((n_persons, n_items)))) + 50
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    return pd.DataFrame(x, columns=[f"i{j}" for j in range(n_items)])


SCALE = 5.0


# --- alpha: known answers ---------------------------------------------------------------


def test_alpha_pairwise_matches_psych(likert):
    # psych::alpha(x): raw_alpha, std.alpha, feldt (nsub = 500 rows)
    result = alpha(likert)
    assert result.alpha == pytest.approx(0.782810812991875, abs=TOL)
    assert result.standardized_alpha == pytest.approx(0.781319100873792, abs=TOL)
    assert result.ci_low == pytest.approx(0.752801208356780, abs=TOL)
    assert result.ci_high == pytest.approx(0.810450904643387, abs=TOL)
    assert (result.n_persons, result.n_items, result.missing) == (500, 8, "pairwise")


def test_alpha_listwise_matches_psych(likert):
    # psych::alpha(x[complete.cases(x), ]) on the 327 complete rows
    result = alpha(likert, missing="listwise")
    assert result.alpha == pytest.approx(0.780827620077124, abs=TOL)
    assert result.standardized_alpha == pytest.approx(0.779310756436626, abs=TOL)
    assert result.ci_low == pytest.approx(0.742999757568075, abs=TOL)
    assert result.ci_high == pytest.approx(0.814994861163027, abs=TOL)
    assert result.n_persons == 327


def test_feldt_interval_formula():
    # psych::alpha.ci(0.8, 100, 10, p.val = 0.10)
    low, high = reliability._feldt_interval(0.8, 100, 10, 0.90)
    assert low == pytest.approx(0.747451896061552, abs=TOL)
    assert high == pytest.approx(0.846033462369849, abs=TOL)
    # Feldt (1987): 1 - (1 - alpha) F quantiles with df (n - 1, (n - 1)(k - 1))
    assert low == pytest.approx(1 - 0.2 * stats.f.ppf(0.95, 99, 891), abs=1e-14)


def test_alpha_ci_level_is_used(likert):
    wide, narrow = alpha(likert, ci=0.99), alpha(likert, ci=0.80)
    assert wide.ci_low < narrow.ci_low < narrow.alpha < narrow.ci_high < wide.ci_high
    assert wide.alpha == narrow.alpha


def test_alpha_sat12_matches_psych(shared_data):
    # psych::alpha on SAT12_scored.csv (0/1, 69 missing), tests/reference/psych_sat12.R
    data = pd.read_csv(shared_data / "SAT12_scored.csv")
    result = alpha(data)
    assert result.alpha == pytest.approx(0.795734526100251, abs=TOL)
    assert result.standardized_alpha == pytest.approx(0.793444976990211, abs=TOL)
    assert result.ci_low == pytest.approx(0.771524323269868, abs=TOL)
    assert result.ci_high == pytest.approx(0.818525627560318, abs=TOL)


def test_alpha_recovers_population_value(rng):
    # Tau-equivalent items: covariance 25 l^2, variance 25 (l^2 + 1) + 1/12 (rounding),
    # so alpha = J / (J - 1) (1 - J v / (J v + J (J - 1) c)).
    n_items, loading = 6, 0.7
    c, v = SCALE**2 * loading**2, SCALE**2 * (loading**2 + 1) + 1 / 12
    truth = n_items / (n_items - 1) * (1 - n_items * v / (n_items * v + n_items * (n_items - 1) * c))
    result = alpha(simulate(rng, 20000, n_items, loading))
    assert result.alpha == pytest.approx(truth, abs=0.01)
    assert result.ci_low < result.alpha < result.ci_high


def test_alpha_small_example_by_hand():
    x = np.array([[1, 2, 2], [2, 3, 3], [3, 3, 4], [4, 5, 4], [2, 2, 3]], dtype=float)
    cov = np.cov(x, rowvar=False)
    by_hand = 3 / 2 * (1 - np.trace(cov) / cov.sum())
    assert alpha(x).alpha == pytest.approx(by_hand, abs=1e-14)
    assert alpha(x).alpha == pytest.approx(0.9354838709677418, abs=1e-12)


# --- alpha: missing data ----------------------------------------------------------------


def test_pairwise_equals_listwise_without_missing(rng):
    data = simulate(rng, 300, 5)
    a, b = alpha(data), alpha(data, missing="listwise")
    assert a.alpha == pytest.approx(b.alpha, abs=1e-13)
    assert a.n_persons == b.n_persons == 300


def test_listwise_equals_alpha_on_complete_rows(likert):
    assert alpha(likert, missing="listwise").alpha == pytest.approx(alpha(likert.dropna()).alpha, abs=1e-14)


def test_pairwise_and_listwise_differ_with_missing(likert):
    assert abs(alpha(likert).alpha - alpha(likert, missing="listwise").alpha) > 1e-4


def test_pairwise_ignores_empty_rows(likert):
    padded = pd.concat([likert, pd.DataFrame(np.nan, index=["e1", "e2"], columns=likert.columns)])
    with pytest.warns(DataWarning, match="gave no responses"):
        result = alpha(padded)
    assert result.n_persons == 500
    assert result.alpha == pytest.approx(alpha(likert).alpha, abs=1e-13)


def test_covariance_helper_matches_pandas_pairwise(rng, monkeypatch):
    # Small chunks so that the sums cross chunk boundaries, with complete and gappy chunks.
    monkeypatch.setattr(_covariance, "_CHUNK_ROWS", 16)
    data = simulate(rng, 203, 6, missing=0.3)
    data.iloc[:40] = simulate(rng, 40, 6).to_numpy()
    moments = _covariance._item_covariance(data.to_numpy(), "pairwise")
    np.testing.assert_allclose(moments.cov, data.cov().to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(moments.pair_counts, data.notna().T.astype(int) @ data.notna().astype(int))


def test_covariance_weights_equal_repeated_rows(rng):
    data = simulate(rng, 50, 4, missing=0.2).to_numpy()
    counts = rng.integers(0, 4, 50).astype(float)
    weighted = _covariance._item_covariance(data, "pairwise", counts)
    repeated = pd.DataFrame(np.repeat(data, counts.astype(int), axis=0)).cov().to_numpy()
    np.testing.assert_allclose(weighted.cov, repeated, rtol=0, atol=1e-12)


# --- alpha: bootstrap -------------------------------------------------------------------


def test_bootstrap_interval(likert):
    first = alpha(likert, bootstrap=200, seed=7)
    again = alpha(likert, bootstrap=200, seed=7)
    assert first.n_bootstrap == 200
    assert (first.bootstrap_low, first.bootstrap_high) == (again.bootstrap_low, again.bootstrap_high)
    assert first.bootstrap_low < first.alpha < first.bootstrap_high
    # The percentile interval should be about as wide as Feldt's here (n = 500).
    boot_width, feldt_width = first.bootstrap_high - first.bootstrap_low, first.ci_high - first.ci_low
    assert boot_width == pytest.approx(feldt_width, rel=0.35)
    assert math.isnan(alpha(likert).bootstrap_low)


def test_bootstrap_listwise_uses_complete_rows(likert):
    result = alpha(likert, missing="listwise", bootstrap=50, seed=1)
    assert result.bootstrap_low < result.alpha < result.bootstrap_high


def test_alpha_result_frame_and_summary(likert):
    result = alpha(likert, bootstrap=10, seed=1)
    frame = result.to_frame()
    assert frame.loc["alpha", "alpha"] == result.alpha
    assert "Feldt" in result.summary() and "bootstrap" in result.summary()


# --- alpha: bad input -------------------------------------------------------------------


def test_alpha_bad_arguments(likert):
    with pytest.raises(ValueError, match="missing must be one of"):
        alpha(likert, missing="complete")
    with pytest.raises(ValueError, match="ci must be"):
        alpha(likert, ci=95)
    with pytest.raises(ValueError, match="bootstrap must be"):
        alpha(likert, bootstrap=-1)


@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_alpha_needs_two_items(likert):
    with pytest.raises(ResponseError, match="at least 2 items.*q1"):
        alpha(likert[["q1"]])


def test_alpha_constant_item_named(likert):
    data = Responses(likert.assign(q3=3.0))
    with pytest.raises(ResponseError, match=r"item 'q3' \(column 2\) has no variance"):
        alpha(data)


def test_alpha_pair_never_answered_together():
    frame = pd.DataFrame({"a": [1, 2, 3, np.nan, np.nan, 2], "b": [np.nan, np.nan, np.nan, 1, 2, np.nan],
                          "c": [1, 3, 2, 2, 1, 3]})
    with pytest.raises(ResponseError, match="items 'a' and 'b' were answered together by 0"):
        alpha(Responses(frame))


def test_alpha_listwise_without_complete_rows():
    frame = pd.DataFrame({"a": [1, 2, 3, np.nan], "b": [np.nan, 1, 2, 2], "c": [1, np.nan, np.nan, 3]})
    with pytest.raises(ResponseError, match="only 0 respondent"):
        alpha(Responses(frame), missing="listwise")


def test_item_with_single_response_named():
    frame = pd.DataFrame({"a": [1, 2, 3, 2], "b": [np.nan, np.nan, 2, np.nan], "c": [1, 3, 2, 3]})
    with pytest.raises(ResponseError, match="item 'b' .*fewer than 2 responses"):
        alpha(Responses(frame))


# --- Guttman ----------------------------------------------------------------------------

COVARIANCE_PAIRWISE = {  # splitHalf(x, covar = TRUE) + lambda 1/5 formulas on cov(x, "pairwise")
    "lambda1": 0.684959461367890, "lambda2": 0.788925889428215, "lambda3": 0.782810812991875,
    "lambda4": 0.801517398821814, "lambda5": 0.768731652614163, "lambda6": 0.770583437778693}
COVARIANCE_LISTWISE = {
    "lambda1": 0.683224167567484, "lambda2": 0.787347079356556, "lambda3": 0.780827620077124,
    "lambda4": 0.810257918030255, "lambda5": 0.769876683151740, "lambda6": 0.769711759682271}
STANDARDIZED_PAIRWISE = {  # psych::guttman(cov(x, use = "pairwise"))
    "lambda1": 0.683654213264568, "lambda2": 0.786854749363201, "lambda3": 0.781319100873792,
    "lambda4": 0.799711839512195, "lambda5": 0.767752408990714, "lambda6": 0.768647694212033}
STANDARDIZED_LISTWISE = {  # psych::guttman(cov(x[complete.cases(x), ]))
    "lambda1": 0.681896911882048, "lambda2": 0.785167135546475, "lambda3": 0.779310756436626,
    "lambda4": 0.807203266686043, "lambda5": 0.767912689729815, "lambda6": 0.767676571283027}


@pytest.mark.parametrize(("standardized", "missing", "expected"), [
    (False, "pairwise", COVARIANCE_PAIRWISE),
    (False, "listwise", COVARIANCE_LISTWISE),
    (True, "pairwise", STANDARDIZED_PAIRWISE),
    (True, "listwise", STANDARDIZED_LISTWISE),
])
def test_guttman_matches_psych(likert, standardized, missing, expected):
    result = guttman(likert, standardized=standardized, missing=missing)
    for name, value in expected.items():
        assert getattr(result, name) == pytest.approx(value, abs=TOL), name
    assert result.lambda4_exhaustive
    assert result.standardized is standardized


def test_guttman_sat12_matches_psych(shared_data):
    # psych::splitHalf(x, covar = TRUE) on SAT12_scored.csv: lambda2, lambda6
    result = guttman(pd.read_csv(shared_data / "SAT12_scored.csv"))
    assert result.lambda2 == pytest.approx(0.803211299164008, abs=TOL)
    assert result.lambda6 == pytest.approx(0.811951138308229, abs=TOL)
    assert not result.lambda4_exhaustive  # 32 items: too many splits to list


def test_guttman_lambda3_is_alpha_and_bounds_order(rng):
    data = simulate(rng, 400, 7, missing=0.1)
    result = guttman(data)
    assert result.lambda3 == pytest.approx(alpha(data).alpha, abs=1e-14)
    assert result.lambda1 < result.lambda3 <= result.lambda2
    assert result.lambda4 >= result.lambda3 - 0.05
    assert set(result.lambda4_split[0]) | set(result.lambda4_split[1]) == set(data.columns)


def test_guttman_lambda4_search_reaches_exhaustive_maximum(rng):
    # 12 items: 462 distinct splits. The sampled search with swaps should find the maximum.
    data = simulate(rng, 300, 12)
    exhaustive = guttman(data)
    searched = guttman(data, n_splits=20, seed=3)
    assert exhaustive.lambda4_exhaustive and not searched.lambda4_exhaustive
    assert searched.lambda4 <= exhaustive.lambda4 + 1e-12
    assert searched.lambda4 == pytest.approx(exhaustive.lambda4, abs=0.005)


def test_guttman_odd_number_of_items(rng):
    result = guttman(simulate(rng, 200, 5))
    assert {len(result.lambda4_split[0]), len(result.lambda4_split[1])} == {2, 3}


def test_guttman_frame(likert):
    frame = guttman(likert).to_frame()
    assert list(frame.index) == [f"lambda{k}" for k in range(1, 7)]
    assert "lambda1" in guttman(likert).summary().replace("L1", "lambda1")


@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_guttman_bad_input(likert):
    with pytest.raises(ResponseError, match="at least 3 items"):
        guttman(likert[["q1", "q2"]])
    with pytest.raises(ValueError, match="n_splits"):
        guttman(likert, n_splits=0)
    with pytest.raises(ValueError, match="missing must be"):
        guttman(likert, missing="none")


def test_guttman_singular_correlation_warns(rng):
    data = simulate(rng, 100, 4)
    data["dup"] = data["i0"] + data["i1"]
    with pytest.warns(ModelWarning, match="singular"):
        result = guttman(data)
    assert 0 < result.lambda6 <= 1


# --- split-half ---------------------------------------------------------------------------


def test_split_half_matches_reference(likert):
    # r = a'Cb / sqrt(a'Ca b'Cb) on cov(x, use = "pairwise") (psych_reliability.R, halfr)
    odd_even = split_half(likert)
    assert odd_even.correlation == pytest.approx(0.65731334341199, abs=TOL)
    assert odd_even.spearman_brown == pytest.approx(0.79322760059211, abs=TOL)
    assert odd_even.first_half == ("q1", "q3", "q5", "q7")
    first_second = split_half(likert, method="first_second")
    assert first_second.correlation == pytest.approx(0.624002330167262, abs=TOL)
    assert first_second.spearman_brown == pytest.approx(0.768474673435959, abs=TOL)
    assert first_second.second_half == ("q5", "q6", "q7", "q8")


def test_split_half_listwise_is_correlation_of_half_sums(likert):
    # R: cor(rowSums(xl[, c(1,3,5,7)]), rowSums(xl[, c(2,4,6,8)])) on complete cases
    result = split_half(likert, missing="listwise")
    assert result.correlation == pytest.approx(0.646971673989063, abs=TOL)
    assert result.spearman_brown == pytest.approx(0.785650031760485, abs=TOL)
    complete = likert.dropna()
    halves = complete[list(result.first_half)].sum(axis=1), complete[list(result.second_half)].sum(axis=1)
    assert result.correlation == pytest.approx(np.corrcoef(*halves)[0, 1], abs=1e-12)
    total_var = (halves[0] + halves[1]).var()
    rulon = 2 * (1 - (halves[0].var() + halves[1].var()) / total_var)
    assert result.flanagan_rulon == pytest.approx(rulon, abs=1e-12)


def test_split_half_random_is_seeded(likert):
    a, b = split_half(likert, method="random", seed=5), split_half(likert, method="random", seed=5)
    assert a == b
    assert len(a.first_half) == 4 and set(a.first_half).isdisjoint(a.second_half)


@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_split_half_bad_input(likert):
    with pytest.raises(ValueError, match="method must be one of"):
        split_half(likert, method="halves")
    with pytest.raises(ResponseError, match="at least 2 items"):
        split_half(likert[["q2"]])


def test_spearman_brown_formula():
    assert spearman_brown(0.5) == pytest.approx(2 / 3, abs=1e-15)
    assert spearman_brown(0.5, factor=3) == pytest.approx(0.75, abs=1e-15)
    with pytest.raises(ValueError):
        spearman_brown(0.5, factor=0)


# --- SEM ----------------------------------------------------------------------------------


def test_sem_known_answer():
    assert sem(sd=10.0, reliability=0.91) == pytest.approx(3.0, abs=1e-12)


def test_sem_from_data(likert):
    complete = likert.dropna()
    sd = complete.sum(axis=1).std(ddof=1)
    expected = sd * math.sqrt(1 - alpha(complete).alpha)
    assert sem(likert, missing="listwise") == pytest.approx(expected, abs=1e-12)
    assert sem(likert, reliability=0.75, missing="listwise") == pytest.approx(sd * 0.5, abs=1e-12)
    # pairwise: the sum-score SD implied by the pairwise covariance matrix
    pairwise = math.sqrt(likert.cov().to_numpy().sum()) * math.sqrt(1 - alpha(likert).alpha)
    assert sem(likert) == pytest.approx(pairwise, abs=1e-12)


def test_sem_bad_input():
    with pytest.raises(ValueError, match="needs responses, or both"):
        sem(sd=3.0)
    with pytest.raises(ValueError, match="reliability must be"):
        sem(sd=3.0, reliability=1.2)
    with pytest.raises(ValueError, match="sd must be"):
        sem(sd=-1.0, reliability=0.5)


def test_omega_entry_point_equals_factor_omega():
    # reliability.omega is the same computation as factor.omega (one code path).
    from psychometrics import factor

    rng = np.random.default_rng(5)
    general = rng.normal(size=(600, 1))
    groups = rng.normal(size=(600, 3))
    loadings = np.repeat(np.eye(3), 3, axis=0) * 0.5
    scores = 0.6 * general + groups @ loadings.T + rng.normal(scale=0.6, size=(600, 9))
    codes = np.clip(np.round(scores + 3), 1, 5)
    via_reliability = reliability.omega(codes, 3)
    via_factor = factor.omega(codes, 3)
    assert via_reliability.total == pytest.approx(via_factor.total, abs=1e-12)
    assert via_reliability.hierarchical == pytest.approx(via_factor.hierarchical, abs=1e-12)
    assert 0 < via_reliability.hierarchical < via_reliability.total < 1
