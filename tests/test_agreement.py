"""Tests of psychometrics.agreement.

Reference values come from published worked examples (cited at each test) and from
tests/reference/agreement_reference.R (psych 2.2.9, output in agreement_reference.out).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics import agreement as ag
from psychometrics.data import Responses
from psychometrics.errors import DataWarning, EstimationError, ResponseError

NAN = np.nan

# Shrout & Fleiss (1979), table 2: 6 targets x 4 judges.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float)

# A second 8 x 3 table (third rater lenient), see agreement_reference.R.
TABLE_2 = np.array([[4, 5, 5], [2, 2, 4], [3, 4, 4], [5, 5, 5],
                    [1, 2, 3], [3, 3, 5], [4, 3, 5], [2, 1, 3]], dtype=float)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", reliability data
# with missing values: coders A-D (rows) x units 1-12 (columns).
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
])

# Two raters' codes used for the Cohen's kappa references (agreement_reference.R).
RATER_A = [1, 2, 3, 3, 2, 1, 4, 1, 2, 5, 4, 3, 3, 2, 1, 5, 4, 4, 2, 3]
RATER_B = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 3, 3, 4, 2, 2, 5, 4, 3, 2, 3]

# Subjects x categories counts, 14 raters per subject: the worked example of the
# Wikipedia article "Fleiss' kappa" (kappa = 0.210 as published there).
FLEISS_COUNTS = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
                          [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
                          [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]], dtype=float)


# ======================================================================================
# ICC
# ======================================================================================

class TestICC:
    def test_shrout_fleiss_published_values(self):
        # Shrout & Fleiss (1979), table 4, two decimals as published.
        result = ag.icc(SHROUT_FLEISS)
        published = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}
        for form, value in published.items():
            assert result.loc[form, "estimate"] == pytest.approx(value, abs=0.005), form

    def test_shrout_fleiss_matches_psych(self):
        # psych::ICC(sf, lmer = FALSE)$results, psych 2.2.9 (agreement_reference.R).
        expected = pd.DataFrame(
            {
                "estimate": [0.165741768405, 0.289763779528, 0.714840714841,
                             0.442797133679, 0.620050547599, 0.909315542377],
                "f": [1.79467849224, 11.02724795640, 11.02724795640,
                      1.79467849224, 11.02724795640, 11.02724795640],
                "df1": [5, 5, 5, 5, 5, 5],
                "df2": [18, 15, 15, 18, 15, 15],
                "p": [0.164768808344640, 0.000134566516484, 0.000134566516484,
                      0.164768808344640, 0.000134566516484, 0.000134566516484],
                "ci_low": [-0.1329323248748, 0.0187865133747, 0.3424647650339,
                           -0.8844421552381, 0.0711368153025, 0.6756747138163],
                "ci_high": [0.722560062328, 0.761084369649, 0.945858259955,
                            0.912415420341, 0.927232040168, 0.985891678169],
            },
            index=["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"],
        )
        result = ag.icc(SHROUT_FLEISS)
        assert list(result.index) == list(expected.index)
        for column in expected.columns:
            np.testing.assert_allclose(result[column].to_numpy(), expected[column].to_numpy(),
                                       rtol=1e-9, atol=1e-11, err_msg=column)
        assert result.attrs["n_targets"] == 6 and result.attrs["n_raters"] == 4

    def test_second_table_at_90_percent_matches_psych(self):
        # psych::ICC(t2, lmer = FALSE, alpha = 0.10)$results (agreement_reference.R).
        result = ag.icc(TABLE_2, ci=0.90)
        np.testing.assert_allclose(
            result["estimate"], [0.566775244300, 0.598187311178, 0.764478764479,
                                 0.796946564885, 0.817056396149, 0.906870229008], rtol=1e-9)
        np.testing.assert_allclose(
            result["ci_low"], [0.221464008075, 0.196750893435, 0.490191501289,
                               0.460447102551, 0.423575115487, 0.742570756239], rtol=1e-9)
        np.testing.assert_allclose(
            result["ci_high"], [0.843825671231, 0.860533274207, 0.924804200222,
                                0.941891894123, 0.948745566008, 0.973611883034], rtol=1e-9)
        np.testing.assert_allclose(result.loc["ICC1", "p"], 0.003972830753269, rtol=1e-9)
        np.testing.assert_allclose(result.loc["ICC2", "p"], 0.000110095681175, rtol=1e-9)

    def test_long_format_equals_wide(self):
        wide = pd.DataFrame(SHROUT_FLEISS, index=[f"t{i}" for i in range(6)],
                            columns=["j1", "j2", "j3", "j4"])
        long = wide.rename_axis("ratee").reset_index().melt(id_vars="ratee", var_name="judge",
                                                            value_name="score")
        long = long.sample(frac=1.0, random_state=3)  # order must not matter
        result = ag.icc(long, target="ratee", rater="judge", rating="score")
        pd.testing.assert_frame_equal(result, ag.icc(wide))

    def test_accepts_responses(self):
        frame = pd.DataFrame(SHROUT_FLEISS, columns=["j1", "j2", "j3", "j4"])
        pd.testing.assert_frame_equal(ag.icc(Responses(frame)), ag.icc(frame))

    def test_missing_rating_drops_target_with_warning(self):
        with_missing = np.vstack([SHROUT_FLEISS, [5, NAN, 3, 4], [NAN, NAN, 1, 1]])
        with pytest.warns(DataWarning, match="dropped 2 of 8 targets"):
            result = ag.icc(with_missing)
        pd.testing.assert_frame_equal(result, ag.icc(SHROUT_FLEISS), check_exact=False, rtol=1e-12)
        assert result.attrs["n_dropped"] == 2

    def test_missing_in_long_format(self):
        long = pd.DataFrame({"t": [1, 1, 2, 2, 3, 3, 4], "r": ["a", "b"] * 3 + ["a"],
                             "y": [1, 2, 3, 3, 5, 4, 2]})
        with pytest.warns(DataWarning, match="dropped 1 of 4"):
            result = ag.icc(long, target="t", rater="r", rating="y")
        assert result.attrs["n_targets"] == 3

    def test_recovers_simulated_icc(self, rng):
        # targets ~ N(0, 1), error ~ N(0, 1), rater effects b_j:
        # ICC(3,1) = 1 / (1 + 1) = 0.5, ICC(2,1) -> 1 / (1 + var(b) + 1) with var(b) (ddof 1) = 0.225
        n, k = 4000, 5
        true = rng.normal(size=(n, 1))
        bias = np.array([[-0.6, -0.3, 0.0, 0.3, 0.6]])  # fixed rater effects
        ratings = true + bias + rng.normal(size=(n, k))
        result = ag.icc(ratings)
        assert result.loc["ICC3", "estimate"] == pytest.approx(0.5, abs=0.03)
        expected_icc2 = 1 / (1 + bias.var(ddof=1) + 1)
        assert result.loc["ICC2", "estimate"] == pytest.approx(expected_icc2, abs=0.03)
        # rater bias lowers absolute agreement but not consistency
        assert result.loc["ICC2", "estimate"] < result.loc["ICC3", "estimate"]
        for form in result.index:
            assert result.loc[form, "ci_low"] < result.loc[form, "estimate"] < result.loc[form, "ci_high"]

    def test_shift_of_one_rater_leaves_icc3_unchanged(self):
        shifted = SHROUT_FLEISS.copy()
        shifted[:, 0] += 3
        a, b = ag.icc(SHROUT_FLEISS), ag.icc(shifted)
        assert a.loc["ICC3", "estimate"] == pytest.approx(b.loc["ICC3", "estimate"], rel=1e-12)
        assert b.loc["ICC2", "estimate"] < a.loc["ICC2", "estimate"]

    def test_single_rater_is_an_error(self):
        with pytest.raises(ResponseError, match="at least 2 raters"):
            ag.icc(SHROUT_FLEISS[:, :1])

    def test_one_target_is_an_error(self):
        with pytest.raises(ResponseError, match="at least 2 targets"):
            ag.icc(SHROUT_FLEISS[:1])

    def test_all_missing_is_an_error(self):
        with pytest.warns(DataWarning), pytest.raises(ResponseError, match="at least 2 targets"):
            ag.icc(np.full((4, 3), NAN))

    def test_non_numeric_names_cell(self):
        frame = pd.DataFrame(SHROUT_FLEISS, index=list("abcdef"), columns=["j1", "j2", "j3", "j4"]).astype(object)
        frame.loc["c", "j3"] = "six"
        with pytest.raises(ResponseError, match=r"row 'c' \(row 2\), column 'j3' \(column 2\): value 'six'"):
            ag.icc(frame)

    def test_infinite_value_is_an_error(self):
        bad = SHROUT_FLEISS.copy()
        bad[1, 1] = np.inf
        with pytest.raises(ResponseError, match="not a finite number"):
            ag.icc(bad)

    def test_constant_ratings_are_an_estimation_error(self):
        with pytest.raises(EstimationError, match="no variance"):
            ag.icc(np.ones((5, 3)))

    def test_duplicate_long_rating_is_an_error(self):
        long = pd.DataFrame({"t": [1, 1, 1, 2, 2], "r": ["a", "b", "a", "a", "b"], "y": [1, 2, 3, 4, 5]})
        with pytest.raises(ResponseError, match="target 1 is rated more than once by rater 'a'"):
            ag.icc(long, target="t", rater="r", rating="y")

    def test_long_format_needs_all_three_columns(self):
        with pytest.raises(ValueError, match="missing"):
            ag.icc(pd.DataFrame({"t": [1]}), target="t")
        with pytest.raises(ResponseError, match="'score' given as rating="):
            ag.icc(pd.DataFrame({"t": [1], "r": [1], "y": [1]}), target="t", rater="r", rating="score")

    def test_bad_confidence_level(self):
        with pytest.raises(ValueError, match="ci must be"):
            ag.icc(SHROUT_FLEISS, ci=95)

    def test_one_dimensional_input_is_an_error(self):
        with pytest.raises(ResponseError, match="2-D"):
            ag.icc(np.arange(5.0))


# ======================================================================================
# Cohen's kappa
# ======================================================================================

class TestCohenKappa:
    def test_unweighted_matches_psych(self):
        # psych::cohen.kappa(cbind(a, b)): kappa, var.kappa and confid (agreement_reference.R)
        result = ag.cohen_kappa(RATER_A, RATER_B)
        assert result.kappa == pytest.approx(0.6784565916399, rel=1e-10)
        assert result.se ** 2 == pytest.approx(0.0150681160519, rel=1e-9)
        assert result.ci_low == pytest.approx(0.437866593263, rel=1e-9)
        assert result.ci_high == pytest.approx(0.919046590016, rel=1e-9)
        assert result.n == 20 and result.weights == "none"
        assert result.table.sum() == 20

    def test_weighted_estimates_match_psych(self):
        # psych's default weights are quadratic; linear weights passed as w = lin.
        assert ag.cohen_kappa(RATER_A, RATER_B, weights="quadratic").kappa == pytest.approx(0.9122807017544, rel=1e-10)
        assert ag.cohen_kappa(RATER_A, RATER_B, weights="linear").kappa == pytest.approx(0.812734082397, rel=1e-10)

    def test_weighted_variance_matches_fleiss_cohen_everitt(self):
        # fce_var() in agreement_reference.R, the FCE (1969) formula computed directly.
        quadratic = ag.cohen_kappa(RATER_A, RATER_B, weights="quadratic")
        linear = ag.cohen_kappa(RATER_A, RATER_B, weights="linear")
        assert quadratic.se ** 2 == pytest.approx(0.00167729237616, rel=1e-9)
        assert linear.se ** 2 == pytest.approx(0.00594247399933, rel=1e-9)

    def test_identity_weights_reduce_to_unweighted(self):
        plain = ag.cohen_kappa(RATER_A, RATER_B)
        custom = ag.cohen_kappa(RATER_A, RATER_B, weights=np.eye(5))
        assert custom.kappa == pytest.approx(plain.kappa, rel=1e-12)
        assert custom.se == pytest.approx(plain.se, rel=1e-12)
        assert custom.weights == "custom"

    def test_unused_category(self):
        # psych::cohen.kappa(cbind(a, b), levels = 1:6): kappas and variance unchanged
        result = ag.cohen_kappa(RATER_A, RATER_B, categories=[1, 2, 3, 4, 5, 6])
        assert result.kappa == pytest.approx(0.6784565916399, rel=1e-10)
        assert result.se ** 2 == pytest.approx(0.0150681160519, rel=1e-9)
        assert result.table.shape == (6, 6)
        weighted = ag.cohen_kappa(RATER_A, RATER_B, categories=range(1, 7), weights="quadratic")
        assert weighted.kappa == pytest.approx(0.9122807017544, rel=1e-10)

    def test_two_column_frame(self):
        frame = pd.DataFrame({"manager": RATER_A, "peer": RATER_B})
        assert ag.cohen_kappa(frame).kappa == pytest.approx(ag.cohen_kappa(RATER_A, RATER_B).kappa)

    def test_missing_pairs_are_dropped(self):
        a = pd.Series(RATER_A + [NAN, 3.0, NAN], dtype=float)
        b = pd.Series(RATER_B + [2.0, NAN, NAN], dtype=float)
        result = ag.cohen_kappa(a, b)
        assert result.n == 20
        assert result.kappa == pytest.approx(0.6784565916399, rel=1e-10)

    def test_perfect_agreement(self):
        result = ag.cohen_kappa([1, 2, 3, 1, 2, 3], [1, 2, 3, 1, 2, 3])
        assert result.kappa == pytest.approx(1.0)
        assert result.se == pytest.approx(0.0, abs=1e-12)

    def test_independent_raters_near_zero(self, rng):
        a = rng.integers(1, 6, size=20000)
        b = rng.integers(1, 6, size=20000)
        result = ag.cohen_kappa(a, b, weights="quadratic")
        assert abs(result.kappa) < 4 * result.se
        assert result.ci_low < 0 < result.ci_high

    def test_length_mismatch(self):
        with pytest.raises(ResponseError, match="rater1 has 3 ratings but rater2 has 2"):
            ag.cohen_kappa([1, 2, 3], [1, 2])

    def test_value_outside_categories(self):
        with pytest.raises(ResponseError, match=r"rater2: rating 7.0 at position 3 is not among categories"):
            ag.cohen_kappa([1, 2, NAN, 3], [1, 2, 3, 7], categories=[1, 2, 3, 4, 5])

    def test_non_numeric(self):
        with pytest.raises(ResponseError, match="value 'x' is not a finite number"):
            ag.cohen_kappa([1, 2, "x"], [1, 2, 3])

    def test_single_code_is_undefined(self):
        with pytest.raises(EstimationError, match="only code 2"):
            ag.cohen_kappa([2, 2, 2], [2, 2, 2])

    def test_too_few_pairs(self):
        with pytest.raises(ResponseError, match="at least 2 targets rated by both"):
            ag.cohen_kappa([1, NAN, 3], [NAN, 2, NAN])

    def test_three_columns_is_an_error(self):
        with pytest.raises(ResponseError, match="2 raters"):
            ag.cohen_kappa(pd.DataFrame({"a": [1, 2], "b": [1, 2], "c": [2, 1]}))

    def test_bad_weights(self):
        with pytest.raises(ValueError, match="weights must be"):
            ag.cohen_kappa(RATER_A, RATER_B, weights="cubic")
        with pytest.raises(ValueError, match="must be 5x5"):
            ag.cohen_kappa(RATER_A, RATER_B, weights=np.eye(3))

    def test_summary(self):
        assert "0.678" in ag.cohen_kappa(RATER_A, RATER_B).summary()


# ======================================================================================
# Fleiss' kappa
# ======================================================================================

def _counts_to_codes(counts: np.ndarray) -> np.ndarray:
    """Subjects x raters codes (1..q) with the given per-subject category counts."""
    return np.array([np.repeat(np.arange(1, counts.shape[1] + 1), row.astype(int)) for row in counts], dtype=float)


class TestFleissKappa:
    def test_published_example(self):
        # Wikipedia "Fleiss' kappa" worked example: kappa = 0.210 (three decimals);
        # fleiss() in agreement_reference.R for the full-precision numbers.
        result = ag.fleiss_kappa(FLEISS_COUNTS, counts=True)
        assert result.kappa == pytest.approx(0.210, abs=5e-4)
        assert result.kappa == pytest.approx(0.2099307044220, rel=1e-10)
        assert result.observed == pytest.approx(0.3780219780220, rel=1e-10)
        assert result.expected == pytest.approx(0.2127551020408, rel=1e-10)
        assert result.se0 == pytest.approx(0.0169650692244, rel=1e-9)
        assert result.n_subjects == 10 and result.n_raters == 14
        np.testing.assert_allclose(result.category_proportions, [0.143, 0.200, 0.279, 0.150, 0.229], atol=5e-4)

    def test_codes_and_counts_agree(self):
        codes = _counts_to_codes(FLEISS_COUNTS)
        assert codes.shape == (10, 14)
        assert ag.fleiss_kappa(codes).kappa == pytest.approx(0.2099307044220, rel=1e-10)

    def test_missing_ratings_hand_computed(self):
        # Gwet (2014) generalisation, by hand:
        #   s1: 1 1 .  -> P = 1;  s2: 1 2 2 -> P = 2/6;  s3: 2 2 2 -> P = 1;  s4: 1 . . (p_j only)
        #   Pbar = 7/9; p_1 = (1 + 1/3 + 0 + 1)/4 = 7/12, p_2 = 5/12, Pe = 74/144
        #   kappa = (7/9 - 37/72) / (1 - 37/72) = 19/35
        ratings = np.array([[1, 1, NAN], [1, 2, 2], [2, 2, 2], [1, NAN, NAN]])
        result = ag.fleiss_kappa(ratings)
        assert result.kappa == pytest.approx(19 / 35, rel=1e-12)
        assert result.observed == pytest.approx(7 / 9, rel=1e-12)
        assert result.n_subjects == 3
        assert np.isnan(result.se0) and np.isnan(result.p)

    def test_unrated_subjects_are_ignored(self):
        codes = np.vstack([_counts_to_codes(FLEISS_COUNTS), np.full((2, 14), NAN)])
        assert ag.fleiss_kappa(codes).kappa == pytest.approx(0.2099307044220, rel=1e-10)

    def test_independent_raters(self, rng):
        codes = rng.integers(1, 4, size=(3000, 6)).astype(float)
        result = ag.fleiss_kappa(codes)
        assert abs(result.kappa) < 4 * result.se0
        # equiprobable q categories: se0^2 reduces to 2 / (N r (r - 1) (q - 1))
        assert result.se0 == pytest.approx(np.sqrt(2 / (3000 * 6 * 5 * 2)), rel=0.01)

    def test_null_standard_error_matches_simulation(self, rng):
        # the spread of kappa over replications of independent raters is se0
        kappas = [ag.fleiss_kappa(rng.integers(1, 4, size=(200, 5)).astype(float)).kappa for _ in range(300)]
        se0 = np.sqrt(2 / (200 * 5 * 4 * 2))
        assert np.std(kappas, ddof=1) == pytest.approx(se0, rel=0.15)

    def test_single_rater_is_an_error(self):
        with pytest.raises(ResponseError, match="at least 2 raters"):
            ag.fleiss_kappa(np.array([[1.0], [2.0]]))

    def test_all_missing(self):
        with pytest.raises(ResponseError, match="every rating is missing"):
            ag.fleiss_kappa(np.full((3, 3), NAN))

    def test_too_few_subjects(self):
        with pytest.raises(ResponseError, match="at least 2 subjects"):
            ag.fleiss_kappa(np.array([[1, 2, 1], [1, NAN, NAN]]))

    def test_code_outside_categories(self):
        with pytest.raises(ResponseError, match=r"subject 1 \(row 1\), rater 'rater3': code 9"):
            ag.fleiss_kappa(np.array([[1, 2, 1], [1, 2, 9]]), categories=[1, 2, 3])

    def test_bad_counts(self):
        with pytest.raises(ValueError, match="columns of a count table"):
            ag.fleiss_kappa(FLEISS_COUNTS, counts=True, categories=[1, 2, 3, 4, 5])
        bad = FLEISS_COUNTS.copy()
        bad[2, 3] = 1.5
        with pytest.raises(ResponseError, match=r"row 2 \(row 2\), category 'category4': value 1.5"):
            ag.fleiss_kappa(bad, counts=True)

    def test_continuous_codes_are_an_error(self, rng):
        with pytest.raises(ResponseError, match="distinct codes"):
            ag.fleiss_kappa(rng.normal(size=(3000, 2)))

    def test_single_category(self):
        with pytest.raises(EstimationError, match="single category"):
            ag.fleiss_kappa(np.ones((4, 3)))

    def test_non_numeric(self):
        with pytest.raises(ResponseError, match="value 'b'"):
            ag.fleiss_kappa(pd.DataFrame({"r1": [1, 2], "r2": ["b", 2]}))


# ======================================================================================
# Krippendorff's alpha
# ======================================================================================

def _alpha_by_pairs(units_by_coders: np.ndarray, level: str) -> float:
    """The definition spelled out pair by pair (Krippendorff 2011, section B), for checking."""
    units = [row[~np.isnan(row)] for row in units_by_coders]
    units = [u for u in units if len(u) >= 2]
    pooled = np.concatenate(units)
    n = len(pooled)
    values = np.unique(pooled)
    n_c = {v: 0.0 for v in values}
    for u in units:
        for i, j in itertools.permutations(range(len(u)), 2):
            n_c[u[i]] += 1.0 / (len(u) - 1)

    def delta(c: float, k: float) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return (c - k) ** 2
        if level == "ratio":
            return ((c - k) / (c + k)) ** 2 if c + k else 0.0
        lo, hi = min(c, k), max(c, k)
        inside = sum(n_c[g] for g in values if lo <= g <= hi)
        return (inside - (n_c[c] + n_c[k]) / 2) ** 2

    d_o = sum(delta(u[i], u[j]) / (len(u) - 1)
              for u in units for i, j in itertools.permutations(range(len(u)), 2)) / n
    d_e = sum(delta(pooled[i], pooled[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    return 1.0 - d_o / d_e


class TestKrippendorffAlpha:
    @pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815),
                                                  ("interval", 0.849), ("ratio", 0.797)])
    def test_krippendorff_2011_example(self, level, published):
        # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C:
        # alpha = 0.743 (nominal), 0.815 (ordinal), 0.849 (interval), 0.797 (ratio).
        result = ag.krippendorff_alpha(KRIPPENDORFF_2011, level, orientation="coders_by_units")
        assert result.alpha == pytest.approx(published, abs=5e-4)
        # missing values: unit 12 has a single value and is not pairable; the paper's n = 40
        assert result.n_units == 11 and result.n_values == 40

    def test_orientations_agree(self):
        for level in ("nominal", "ordinal", "interval", "ratio"):
            a = ag.krippendorff_alpha(KRIPPENDORFF_2011, level, orientation="coders_by_units").alpha
            b = ag.krippendorff_alpha(KRIPPENDORFF_2011.T, level).alpha
            assert a == pytest.approx(b, rel=1e-12)

    def test_nominal_full_precision(self):
        # the published three decimals, pinned to full precision by the pair-by-pair definition
        expected = _alpha_by_pairs(KRIPPENDORFF_2011.T, "nominal")
        assert ag.krippendorff_alpha(KRIPPENDORFF_2011.T).alpha == pytest.approx(expected, rel=1e-12)

    @pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
    def test_matches_pairwise_definition_on_simulated_data(self, rng, level):
        truth = rng.integers(1, 6, size=(25, 1))
        data = np.clip(truth + rng.integers(-1, 2, size=(25, 4)), 1, 5).astype(float)
        data[rng.random(data.shape) < 0.25] = NAN
        expected = _alpha_by_pairs(data, level)
        assert ag.krippendorff_alpha(data, level).alpha == pytest.approx(expected, rel=1e-10)

    def test_continuous_interval_values(self, rng):
        data = rng.normal(size=(30, 3)) + rng.normal(size=(30, 1)) * 2
        assert ag.krippendorff_alpha(data, "interval").alpha == pytest.approx(_alpha_by_pairs(data, "interval"),
                                                                               rel=1e-10)

    def test_interval_is_shift_invariant_for_large_values(self, rng):
        data = np.round(rng.normal(size=(50, 3)) + rng.normal(size=(50, 1)), 2)
        a = ag.krippendorff_alpha(data, "interval").alpha
        assert ag.krippendorff_alpha(data + 1e7, "interval").alpha == pytest.approx(a, rel=1e-6)

    def test_perfect_agreement(self):
        data = np.array([[1, 1, NAN], [2, 2, 2], [3, NAN, 3], [1, 1, 1]])
        for level in ("nominal", "ordinal", "interval", "ratio"):
            assert ag.krippendorff_alpha(data, level).alpha == pytest.approx(1.0)

    def test_single_coder_is_an_error(self):
        with pytest.raises(ResponseError, match="at least 2 coders"):
            ag.krippendorff_alpha(KRIPPENDORFF_2011.T[:, :1])

    def test_all_missing(self):
        with pytest.raises(ResponseError, match="every value is missing"):
            ag.krippendorff_alpha(np.full((3, 3), NAN))

    def test_no_pairable_unit(self):
        with pytest.raises(ResponseError, match="every unit has at most one"):
            ag.krippendorff_alpha(np.array([[1, NAN], [NAN, 2]]))

    def test_no_variation(self):
        with pytest.raises(EstimationError, match="identical"):
            ag.krippendorff_alpha(np.array([[2, 2], [2, 2.0]]), "ordinal")

    def test_non_numeric(self):
        with pytest.raises(ResponseError, match="value 'low'"):
            ag.krippendorff_alpha(pd.DataFrame({"c1": [1, 2], "c2": ["low", 2]}))

    def test_continuous_values_need_interval_level(self, rng):
        data = rng.normal(size=(3000, 2))
        with pytest.raises(ResponseError, match="6000 distinct values.*level='interval'"):
            ag.krippendorff_alpha(data, "ordinal")
        assert np.isfinite(ag.krippendorff_alpha(data, "interval").alpha)

    def test_accepts_responses(self):
        frame = pd.DataFrame(KRIPPENDORFF_2011.T, columns=list("ABCD"))
        assert ag.krippendorff_alpha(Responses(frame), "ordinal").alpha == pytest.approx(0.815, abs=5e-4)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="level must be"):
            ag.krippendorff_alpha(KRIPPENDORFF_2011, "cardinal")
        with pytest.raises(ValueError, match="orientation must be"):
            ag.krippendorff_alpha(KRIPPENDORFF_2011, orientation="wide")
        with pytest.raises(ResponseError, match="non-negative"):
            ag.krippendorff_alpha(np.array([[1, -1], [2, 2.0]]), "ratio")


# ======================================================================================
# rwg, rwg(j)
# ======================================================================================

class TestRwg:
    def test_hand_computed(self):
        # rwg = 1 - s^2 / sigma_EU^2, sigma_EU^2 = (A^2 - 1)/12 = 2 for A = 5 (James et al. 1984).
        #   team a: 3 4 4 5 -> s^2 = 2/3, rwg = 2/3
        #   team b: 1 5 1 5 -> s^2 = 16/3 > 2, rwg = 1 - 8/3 < 0, truncated to 0
        #   team c: 4 4 4   -> s^2 = 0, rwg = 1
        long = pd.DataFrame({"team": list("aaaabbbbccc"), "score": [3, 4, 4, 5, 1, 5, 1, 5, 4, 4, 4]})
        result = ag.rwg(long, 5, group="team", value="score")
        np.testing.assert_allclose(result["rwg"], [2 / 3, 0.0, 1.0], rtol=1e-12)
        np.testing.assert_allclose(result["variance"], [2 / 3, 16 / 3, 0.0], rtol=1e-12)
        assert result["n"].tolist() == [4, 4, 3]
        assert list(result.index) == ["a", "b", "c"]

    def test_one_group_and_custom_null(self):
        assert ag.rwg([3, 4, 4, 5], 5).loc["all", "rwg"] == pytest.approx(2 / 3)
        # a given null variance (e.g. a skewed null) replaces (A^2 - 1)/12
        assert ag.rwg(np.array([3, 4, 4, 5]), 5, null=1.0).loc["all", "rwg"] == pytest.approx(1 / 3)

    def test_missing_ratings_ignored_and_small_groups_flagged(self):
        long = pd.DataFrame({"team": list("aaaaabb"), "score": [3, 4, NAN, 4, 5, 2, NAN]})
        with pytest.warns(DataWarning, match=r"1 group\(s\) have fewer than 2 ratings.*'b'"):
            result = ag.rwg(long, 5, group="team", value="score")
        assert result.loc["a", "rwg"] == pytest.approx(2 / 3)
        assert result.loc["a", "n"] == 4
        assert np.isnan(result.loc["b", "rwg"])

    def test_vectorised_over_many_groups(self, rng):
        groups = np.repeat(np.arange(5000), 6)
        scores = rng.integers(1, 6, size=groups.size)
        result = ag.rwg(pd.DataFrame({"g": groups, "y": scores}), 5, group="g", value="y")
        assert len(result) == 5000
        # uniform random answers: the mean variance is sigma_EU^2 = 2
        assert result["variance"].mean() == pytest.approx(2.0, abs=0.05)

    def test_bad_input(self):
        long = pd.DataFrame({"team": list("aab"), "score": [1, 2, "x"], "other": [1, 2, 3]})
        with pytest.raises(ValueError, match="n_options must be an integer >= 2"):
            ag.rwg([1, 2, 3], 1)
        with pytest.raises(ValueError, match="null must be"):
            ag.rwg([1, 2, 3], 5, null="triangular")
        with pytest.raises(ResponseError, match="'grp' given as group="):
            ag.rwg(long, 5, group="grp", value="score")
        with pytest.raises(ResponseError, match=r"row 2 \(row 2\), column 'score'.*value 'x'"):
            ag.rwg(long, 5, group="team", value="score")
        with pytest.raises(ValueError, match="name the rating column with value="):
            ag.rwg(long[["team", "other"]].assign(more=1), 5, group="team")
        with pytest.raises(ResponseError, match="every rating is missing"):
            ag.rwg([NAN, NAN], 5)
        with pytest.raises(ResponseError, match="no 'team' label"):
            ag.rwg(pd.DataFrame({"team": ["a", None], "score": [1, 2]}), 5, group="team", value="score")


class TestRwgJ:
    def test_hand_computed(self):
        # rwg(J) = J(1 - m/s2) / (J(1 - m/s2) + m/s2), m = mean item variance, s2 = 2 (A = 5),
        # James, Demaree & Wolf (1984), eq. for rwg(J)
        long = pd.DataFrame({
            "team": ["a", "a", "a", "b", "b", "b"],
            "x": [3, 4, 5, 1, 5, 3],      # variances: a 1.0, b 4.0
            "y": [4, 4, 5, 2, 5, 5],      # variances: a 1/3, b 3.0
        })
        result = ag.rwg_j(long, 5, group="team")
        # team a: m = 2/3, m/s2 = 1/3, rwg_j = 2(2/3) / (2(2/3) + 1/3) = 4/5
        assert result.loc["a", "rwg_j"] == pytest.approx(0.8, rel=1e-12)
        assert result.loc["a", "mean_variance"] == pytest.approx(2 / 3)
        # team b: m = 3.5 > 2, truncated to 0
        assert result.loc["b", "rwg_j"] == 0.0
        assert result["n_items"].tolist() == [2, 2]

    def test_items_argument_and_one_group(self):
        frame = pd.DataFrame({"x": [3, 4, 5], "y": [4, 4, 5], "note": ["p", "q", "r"]})
        result = ag.rwg_j(frame, 5, items=["x", "y"])
        assert result.loc["all", "rwg_j"] == pytest.approx(0.8)

    def test_missing_ratings(self):
        # team a, item y has two ratings left (4, 5 -> variance 0.5); x unchanged (1.0)
        # m = 0.75, m/s2 = 0.375, rwg_j = 2(0.625) / (2(0.625) + 0.375) = 10/13
        long = pd.DataFrame({"team": ["a", "a", "a", "b", "b"], "x": [3, 4, 5, 2, 2],
                             "y": [NAN, 4, 5, 3, NAN]})
        result = ag.rwg_j(long, 5, group="team")
        assert result.loc["a", "rwg_j"] == pytest.approx(10 / 13, rel=1e-12)
        # team b: only x is estimable (variance 0) -> J = 1 item, rwg_j = 1
        assert result.loc["b", "n_items"] == 1
        assert result.loc["b", "rwg_j"] == pytest.approx(1.0)

    def test_group_with_one_rater(self):
        long = pd.DataFrame({"team": ["a", "a", "b"], "x": [3, 4, 5], "y": [3, 3, 5]})
        with pytest.warns(DataWarning, match="fewer than 2"):
            result = ag.rwg_j(long, 5, group="team")
        assert np.isnan(result.loc["b", "rwg_j"])

    def test_bad_input(self):
        with pytest.raises(ValueError, match="at least 2 items"):
            ag.rwg_j(pd.DataFrame({"g": [1, 1], "x": [1, 2]}), 5, group="g")
        with pytest.raises(ValueError, match="2-D table"):
            ag.rwg_j([1, 2, 3], 5)
        with pytest.raises(ResponseError, match="'z' given as items="):
            ag.rwg_j(pd.DataFrame({"x": [1, 2], "y": [1, 2]}), 5, items=["x", "z"])
        with pytest.raises(ResponseError, match="every rating is missing"):
            ag.rwg_j(pd.DataFrame({"x": [NAN, NAN], "y": [NAN, NAN]}), 5)


# ======================================================================================
# ICC(1), ICC(2) for aggregation
# ======================================================================================

AGGREGATION = pd.DataFrame({"team": list("AAAABBBCCCCC"), "rating": [4, 5, 4, 3, 2, 3, 2, 5, 5, 4, 5, 4]})


class TestIccAggregation:
    def test_known_answer(self):
        # By hand: group means 4, 7/3, 4.6; grand mean 46/12.
        #   SS_B = 4(1/6)^2 + 3(3/2)^2 + 5(23/30)^2 = 9.8, MS_B = 4.9
        #   SS_W = 2 + 2/3 + 1.2 = 58/15, MS_W = 58/135
        #   ICC(1) = (MS_B - MS_W) / (MS_B + (k - 1) MS_W), k = 12/3 = 4;  ICC(2) = 1 - MS_W/MS_B
        # R (agreement_reference.R): summary(aov(y ~ g)) gives the same mean squares,
        # icc1 = 0.72232196289647, icc1_n0 = 0.72652487961477, icc2 = 0.91232048374906,
        # F = 11.40517241379310, p = 0.00340826689553
        result = ag.icc_aggregation(AGGREGATION, group="team", value="rating")
        msb, msw = 4.9, 58 / 135
        assert result.ms_between == pytest.approx(msb, rel=1e-12)
        assert result.ms_within == pytest.approx(msw, rel=1e-12)
        assert result.icc1 == pytest.approx((msb - msw) / (msb + 3 * msw), rel=1e-12)
        assert result.icc1 == pytest.approx(0.72232196289647, rel=1e-10)
        assert result.icc2 == pytest.approx(0.91232048374906, rel=1e-10)
        assert result.f == pytest.approx(11.40517241379310, rel=1e-10)
        assert result.p == pytest.approx(0.00340826689553, rel=1e-9)
        assert (result.df1, result.df2, result.n_groups, result.n_obs) == (2, 9, 3, 12)
        adjusted = ag.icc_aggregation(AGGREGATION, group="team", value="rating", group_size="adjusted")
        assert adjusted.icc1 == pytest.approx(0.72652487961477, rel=1e-10)
        assert adjusted.group_size == pytest.approx(47 / 12)

    def test_balanced_equals_one_way_icc(self, rng):
        # With equal group sizes ICC(1) and ICC(2) are Shrout-Fleiss ICC1 and ICC1k.
        wide = rng.normal(size=(40, 1)) + rng.normal(size=(40, 5))
        long = pd.DataFrame({"g": np.repeat(np.arange(40), 5), "y": wide.ravel()})
        result = ag.icc_aggregation(long, group="g", value="y")
        forms = ag.icc(wide)
        assert result.icc1 == pytest.approx(forms.loc["ICC1", "estimate"], rel=1e-10)
        assert result.icc2 == pytest.approx(forms.loc["ICC1k", "estimate"], rel=1e-10)

    def test_missing_values_dropped(self):
        extra = pd.concat([AGGREGATION, pd.DataFrame({"team": ["A", "C"], "rating": [NAN, NAN]})])
        result = ag.icc_aggregation(extra, group="team", value="rating")
        assert result.icc1 == pytest.approx(0.72232196289647, rel=1e-10)
        assert result.n_obs == 12

    def test_summary_and_frame(self):
        result = ag.icc_aggregation(AGGREGATION, group="team", value="rating")
        assert "ICC(1) = 0.722" in result.summary()
        assert result.to_frame().loc[0, "icc2"] == pytest.approx(result.icc2)

    def test_bad_input(self):
        with pytest.raises(ResponseError, match="at least 2 groups"):
            ag.icc_aggregation(AGGREGATION.assign(team="A"), group="team", value="rating")
        with pytest.raises(ResponseError, match="some group with 2 or more ratings"):
            ag.icc_aggregation(pd.DataFrame({"t": ["a", "b"], "y": [1, 2]}), group="t", value="y")
        with pytest.raises(ResponseError, match=r"row 1 \(row 1\) has no 'team' label"):
            ag.icc_aggregation(pd.DataFrame({"team": ["a", None, "b"], "y": [1, 2, 3]}), group="team", value="y")
        with pytest.raises(ResponseError, match="value 'n/a'"):
            ag.icc_aggregation(AGGREGATION.astype({"rating": object}).replace({3: "n/a"}), group="team",
                               value="rating")
        with pytest.raises(ResponseError, match="every value in 'rating' is missing"):
            ag.icc_aggregation(AGGREGATION.assign(rating=NAN), group="team", value="rating")
        with pytest.raises(EstimationError, match="identical"):
            ag.icc_aggregation(AGGREGATION.assign(rating=3), group="team", value="rating")
        with pytest.raises(ValueError, match="group_size"):
            ag.icc_aggregation(AGGREGATION, group="team", value="rating", group_size="median")


def test_no_runtime_warnings_on_edge_values():
    # perfectly consistent raters: MS_E = 0, ICC3 = 1 without a RuntimeWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = ag.icc(np.array([[1, 2, 3], [2, 3, 4], [4, 5, 6.0]]))
    assert result.loc["ICC3", "estimate"] == pytest.approx(1.0)


def test_agreement_results_have_a_frame_for_code():
    result = ag.cohen_kappa([1, 2, 3, 1, 2, 2, 3], [1, 2, 3, 2, 2, 2, 3])
    frame = result.to_frame()
    assert frame.shape[0] == 1
    assert frame.loc[0, "kappa"] == result.kappa and frame.loc[0, "n"] == 7
