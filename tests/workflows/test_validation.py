"""Tests of psychometrics.validation: the composed validate() workflow.

Reference numbers: tests/reference/validation_reference.R (psych 2.x, lavaan 0.6-14, R 4.2),
output in tests/reference/validation_reference.out.
"""

from __future__ import annotations

import json
import math
import warnings
import numpy as np
import pandas as pd
import pytest

from psychometrics.errors import DataWarning, EstimationError, ModelWarning, ResponseError
from psychometrics.instrument import Instrument, bundled_sample
from psychometrics.data import read_table
from psychometrics.dif import adjust_pvalues
from psychometrics.validation import THRESHOLDS, Finding, Validation, default_model, validate


@pytest.fixture(scope="module")
def demo() -> Validation:
    return validate(Instrument.bundled("soft-skills-7"), bundled_sample("soft-skills-7"), n_replications=5)


# ----------------------------------------------------------------------------- known answers

# psych::alpha(x)$total$raw_alpha per scale on the keyed soft-skills-7 sample
# (tests/reference/validation_reference.R).
R_ALPHA = {
    "communication": 0.7598850779, "problem_solving": 0.7615263431, "adaptability": 0.7537203953,
    "teamwork": 0.7471174664, "emotional_intelligence": 0.7478910256, "leadership": 0.7827067694,
    "creativity": 0.7493096675,
}


def test_alpha_per_scale_matches_psych(demo):
    for scale, expected in R_ALPHA.items():
        assert demo.analysis.scales.loc[scale, "alpha"] == pytest.approx(expected, abs=1e-8)
    assert demo.scale_table()["alpha"].to_dict() == pytest.approx(R_ALPHA, abs=1e-8)


def test_cfa_of_scale_structure_matches_lavaan_wlsmv(demo):
    # lavaan::cfa(seven factors, ordered = TRUE, estimator = "WLSMV", missing = "pairwise")
    cfa = demo.cfa
    assert cfa.estimator == "dwls"
    assert cfa.df == 1106
    assert cfa.chi2 == pytest.approx(825.3845612, rel=1e-5)
    assert cfa.chi2_scaled == pytest.approx(1091.110785, rel=1e-5)
    assert cfa.cfi_scaled == pytest.approx(1.0, abs=1e-9)
    assert cfa.rmsea_scaled == pytest.approx(0.0, abs=1e-9)
    assert cfa.srmr == pytest.approx(0.03261785097, abs=1e-6)


def test_cfa_reliability_is_omega_of_standardized_loadings(demo):
    loadings = demo.cfa.loadings["teamwork"]
    loadings = loadings[loadings != 0]
    expected = loadings.sum() ** 2 / (loadings.sum() ** 2 + (1 - loadings ** 2).sum())
    assert demo.scale_table().loc["teamwork", "omega_cfa"] == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------- composition

def test_demo_structure_and_verdicts(demo):
    assert demo.data.n_persons == 800
    assert demo.data.n_items == 49
    values = demo.responses.values
    assert demo.data.n_missing == int(np.isnan(values).sum())
    assert demo.data.missing_rate == pytest.approx(np.isnan(values).mean(), abs=0)
    assert demo.correlation == "polychoric"
    assert demo.parallel.n_factors == 7
    assert demo.efa.n_factors == 7 and demo.efa_suggested is None
    assert set(demo.irt) == set(demo.verdicts) == set(R_ALPHA)
    for result in demo.irt.values():
        assert result.model == "graded"
        assert result.converged
        assert 0.7 < result.marginal_reliability < 0.9
        assert result.scores.shape == (800, 2)
    # the simulated sample is built to be clean
    assert all(verdict == "ok" for verdict in demo.verdicts.values())


def test_item_fit_is_wired_in_with_holm(demo):
    result = demo.irt["teamwork"]
    assert result.item_fit is not None
    from psychometrics.fit import item_fit

    with warnings.catch_warnings():
        # S-X2 says how many respondents it left out; not what this test is about
        warnings.simplefilter("ignore", DataWarning)
        direct = item_fit(result.calibration, demo.responses.subset(list(result.calibration.item_ids)))
    pd.testing.assert_series_equal(result.item_fit["s_x2"], direct["s_x2"])
    np.testing.assert_allclose(result.item_fit["p_holm"], adjust_pvalues(direct["p"].to_numpy(), "holm"), rtol=1e-12)
    table = demo.item_table()
    assert table.loc["tea_01", "s_x2"] == direct.loc["tea_01", "s_x2"]


def test_item_table_holds_the_api_values(demo):
    table = demo.item_table()
    assert list(table.index[:3]) == ["com_01", "com_02", "com_03"]
    assert table.loc["tea_02", "r_drop"] == demo.analysis.items.loc["tea_02", "r_drop"]
    params = demo.irt["teamwork"].calibration.item_params
    assert table.loc["tea_02", "a"] == params.loc["tea_02", "a"]
    assert table.loc["tea_02", "b4"] == params.loc["tea_02", "b4"]
    assert (table["flags"] == "").all()


def test_to_dict_is_json_ready(demo):
    out = demo.to_dict()
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    assert back["exit_code"] == demo.exit_code
    assert back["scales"][0]["alpha"] == pytest.approx(R_ALPHA["communication"], abs=1e-8)
    assert back["factor"]["parallel_analysis"]["n_factors"] == 7
    assert back["irt"]["teamwork"]["model"] == "graded"


def test_default_model_by_format():
    likert = Instrument.bundled("soft-skills-7")
    assert default_model(likert, likert.scale_items()["teamwork"]) == "graded"
    test = Instrument.bundled("sql-fundamentals")
    assert default_model(test, test.item_ids) == "2pl"
    sjt = Instrument.bundled("sjt-collaboration")
    assert default_model(sjt, sjt.item_ids) == "gpcm"


# ----------------------------------------------------------------------------- generated data

def _two_scale_instrument() -> Instrument:
    items = [{"id": f"g{j}", "text": f"good {j}", "scale": "good", "response": "agree5"} for j in range(1, 7)]
    items += [{"id": f"w{j}", "text": f"weak {j}", "scale": "weak", "response": "agree5"} for j in range(1, 5)]
    return Instrument.from_dict({
        "id": "generated", "version": "1", "title": "Generated",
        "formats": {"agree5": {"type": "likert", "options": [{"code": c, "label": str(c)} for c in range(1, 6)]}},
        "scales": [{"id": "good", "name": "Good"}, {"id": "weak", "name": "Weak"}],
        "items": items,
    })


def _generated_frame(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    theta = rng.normal(size=(n, 2))
    cuts = np.array([-1.5, -0.5, 0.5, 1.5])
    columns = {}
    for j in range(1, 7):
        latent = 1.6 * theta[:, 0] + rng.normal(size=n)
        columns[f"g{j}"] = 1 + (latent[:, None] > cuts * 1.8).sum(axis=1)
    # g6 replaced by noise: a misfitting item with near-zero item-total correlation
    columns["g6"] = rng.integers(1, 6, size=n)
    for j in range(1, 5):
        latent = 0.45 * theta[:, 1] + rng.normal(size=n)
        columns[f"w{j}"] = 1 + (latent[:, None] > cuts).sum(axis=1)
    frame = pd.DataFrame(columns, index=pd.Index([f"p{i:04d}" for i in range(n)], name="respondent_id"))
    return frame.reset_index()


@pytest.fixture(scope="module")
def generated() -> Validation:
    rng = np.random.default_rng(20261126)
    return validate(_two_scale_instrument(), _generated_frame(rng), n_replications=5)


def test_generated_findings_name_scales_and_items(generated):
    messages = [f.message for f in generated.findings]
    weak_alpha = generated.analysis.scales.loc["weak", "alpha"]
    assert weak_alpha < 0.70
    assert f"weak: alpha {weak_alpha:.2f} < 0.70" in messages
    r_drop = generated.analysis.items.loc["g6", "r_drop"]
    assert r_drop < 0.20
    assert f"item g6: r.drop {r_drop:.2f} < 0.20" in messages
    assert generated.verdicts["weak"] == "poor"
    assert generated.verdicts["good"] in ("review", "poor")
    assert generated.exit_code == 1
    flags = generated.item_table().loc["g6", "flags"]
    assert "r.drop" in flags
    assert all(isinstance(f, Finding) and str(f) == f.message for f in generated.findings)


def test_thresholds_can_be_relaxed(generated):
    frame = _generated_frame(np.random.default_rng(20261126))
    relaxed = validate(_two_scale_instrument(), frame, n_replications=2,
                       thresholds={"alpha": 0.0, "marginal_reliability": 0.0, "r_drop": -1.0, "loading": -1.0,
                                   "item_fit_p": 0.0, "rmsea": 10.0, "cfi": -1.0, "srmr": 10.0, "kmo": 0.0,
                                   "eigenvalue_ratio": 0.0, "ecv": 0.0})
    # the bounds of blown-up estimates (psychometrics.irt.problems) are not thresholds: a weak item's
    # extrapolated threshold stays a finding
    assert not [f for f in relaxed.findings if f.scope in ("scale", "item") and "is beyond +-" not in f.message]
    assert set(THRESHOLDS) >= {"alpha", "r_drop", "item_fit_p", "rmsea"}


def test_progress_reports_every_step_in_order(tmp_path, rng):
    path = tmp_path / "responses.csv"
    _generated_frame(rng, 150).to_csv(path, index=False)
    calls: list[tuple[str, float]] = []
    result = validate(_two_scale_instrument(), path, n_replications=2,
                      progress=lambda step, fraction: calls.append((step, fraction)))
    assert result.data.n_persons == 150
    fractions = [fraction for _, fraction in calls]
    assert calls[0] == ("checking data", 0.0)
    assert calls[-1] == ("done", 1.0)
    assert fractions == sorted(fractions) and all(0.0 <= f <= 1.0 for f in fractions)
    steps = [step for step, _ in calls]
    assert "IRT calibration: good" in steps and "IRT calibration: weak" in steps
    assert set(result.timings) == set(steps[:-1])


def test_missing_data_summary_and_analysis(rng):
    frame = _generated_frame(rng, 200)
    mask = rng.random((200, 10)) < 0.15
    items = frame.columns[1:]
    values = frame[items].astype(float).to_numpy(copy=True)
    values[mask] = np.nan
    frame[items] = values
    result = validate(_two_scale_instrument(), frame, n_replications=2)
    assert result.data.n_missing == int(mask.sum())
    assert result.data.missing_rate == pytest.approx(mask.mean(), abs=1e-15)
    # analyses use every available answer: pairwise n per item
    assert result.analysis.items.loc["g1", "n"] == 200 - mask[:, 0].sum()
    assert all(r.converged for r in result.irt.values())
    assert result.cfa is not None


def test_group_column_and_dif(rng):
    frame = _generated_frame(rng, 600)
    group = np.where(np.arange(600) % 2 == 0, "a", "b")
    frame["cohort"] = group
    # item g2 is two categories easier for group b: uniform DIF
    frame.loc[group == "b", "g2"] = np.minimum(frame.loc[group == "b", "g2"] + 2, 5)
    result = validate(_two_scale_instrument(), frame, group="cohort", n_replications=3)
    assert result.group == "cohort"
    assert result.dif is not None
    assert set(result.dif["scale"]) == {"good", "weak"}
    flagged = {f.target for f in result.findings if f.statistic == "dif"}
    assert "g2" in flagged
    assert "g2" in result.item_table().loc["g2", "flags"]


def test_empty_and_constant_items_are_left_out_with_a_finding(rng):
    frame = _generated_frame(rng, 200)
    frame["g4"] = np.nan
    frame["w3"] = 3
    frame.loc[5, [c for c in frame.columns if c != "respondent_id"]] = np.nan
    result = validate(_two_scale_instrument(), frame, n_replications=2)
    messages = [f.message for f in result.findings]
    assert "item g4 (column 4): no responses; left out of the analyses" in messages
    assert "item w3 (column 9): no variance (all 199 answers are 3); left out of the analyses" in messages
    assert any("p0005" in m for m in result.data.warnings)  # the empty row, named
    assert result.exit_code == 1
    assert result.data.n_items == 10
    assert "g4" not in result.irt["good"].calibration.item_ids
    table = result.item_table()
    assert table.index.tolist() == [f"g{j}" for j in range(1, 7)] + [f"w{j}" for j in range(1, 5)]
    assert np.isnan(table.loc["g4", "r_drop"]) and "no responses" in table.loc["g4", "flags"]
    assert table.loc["w3", "scale"] == "weak"


def test_scale_left_with_one_item_is_a_problem(rng):
    frame = _generated_frame(rng, 150)
    for column in ("w1", "w2", "w3"):
        frame[column] = np.nan
    result = validate(_two_scale_instrument(), frame, n_replications=2)
    assert "weak: 1 usable item(s); a scale needs at least two to be analysed" in [f.message for f in result.findings]
    assert result.verdicts["weak"] == "poor"
    assert "weak" not in result.analysis.scales.index
    assert np.isnan(result.scale_table().loc["weak", "alpha"])


def test_all_items_without_variance_is_an_error(rng):
    frame = _generated_frame(rng, 60)
    for column in frame.columns[1:]:
        frame[column] = 2
    with pytest.raises(ResponseError, match="fewer than two items have any variance"):
        validate(_two_scale_instrument(), frame)


def test_model_warnings_become_findings_and_runtime_warnings_propagate(monkeypatch, rng):
    import psychometrics.factor as factor

    original = factor.kmo

    def noisy(*args, **kwargs):
        warnings.warn("smoothed a non-positive-definite matrix", ModelWarning)
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        return original(*args, **kwargs)

    monkeypatch.setattr(factor, "kmo", noisy)
    with pytest.warns(RuntimeWarning, match="overflow"):
        result = validate(_two_scale_instrument(), _generated_frame(rng, 150), n_replications=2)
    assert "KMO: smoothed a non-positive-definite matrix" in [f.message for f in result.findings]
    assert result.kmo is not None


def test_non_convergence_and_failed_calibration_are_findings(monkeypatch, rng):
    import psychometrics.irt as irt

    original = irt.calibrate

    def flaky(responses, model, **kwargs):
        if "w1" in responses.item_ids:
            raise EstimationError("the information matrix is singular")
        return original(responses, model, max_iter=2)

    monkeypatch.setattr(irt, "calibrate", flaky)
    result = validate(_two_scale_instrument(), _generated_frame(rng, 150), n_replications=2)
    messages = [f.message for f in result.findings]
    assert "good: graded calibration did not converge in 2 EM iterations" in messages
    assert "weak: graded calibration failed: the information matrix is singular" in messages
    assert result.verdicts == {"good": "poor", "weak": "poor"}
    assert result.irt["weak"].calibration is None and result.irt["weak"].error
    assert not result.irt["good"].converged
    # the tables still hold every item; IRT columns are empty for the failed scale
    table = result.item_table()
    assert np.isnan(table.loc["w1", "a"]) and np.isfinite(table.loc["g1", "a"])
    json.dumps(result.to_dict(), allow_nan=False)
    pytest.importorskip("jinja2")
    pytest.importorskip("matplotlib")
    from psychometrics.report import render

    page = render(result)
    assert "weak: graded calibration failed" in page
    assert 'id="fig-crc-good"' in page and 'id="fig-crc-weak"' not in page


# ----------------------------------------------------------------------------- bad input

def test_unknown_group_column_is_named(rng):
    with pytest.raises(ResponseError, match="group column 'team'"):
        validate(_two_scale_instrument(), _generated_frame(rng, 50), group="team")


def test_group_column_that_is_an_item_is_rejected(rng):
    with pytest.raises(ResponseError, match="'g1' is an item"):
        validate(_two_scale_instrument(), _generated_frame(rng, 50), group="g1")


def test_out_of_range_code_names_row_and_item(rng):
    frame = _generated_frame(rng, 50)
    frame.loc[7, "w2"] = 9
    with pytest.raises(ResponseError, match=r"p0007.*w2|w2.*p0007"):
        validate(_two_scale_instrument(), frame)


def test_duplicated_respondent_is_an_error(rng):
    frame = _generated_frame(rng, 50)
    frame.loc[3, "respondent_id"] = frame.loc[2, "respondent_id"]
    with pytest.raises(ResponseError, match="p0002"):
        validate(_two_scale_instrument(), frame)


def test_unknown_model_or_scale_is_rejected(rng):
    frame = _generated_frame(rng, 50)
    with pytest.raises(ValueError, match="unknown item model 'grade'"):
        validate(_two_scale_instrument(), frame, model="grade")
    with pytest.raises(ValueError, match="scale 'wek'"):
        validate(_two_scale_instrument(), frame, model={"wek": "gpcm"})


def test_model_per_scale(rng):
    result = validate(_two_scale_instrument(), _generated_frame(rng, 200), model={"weak": "gpcm"}, n_replications=2)
    assert result.irt["weak"].model == "gpcm" and result.irt["good"].model == "graded"
    assert set(result.irt["weak"].calibration.models.values()) == {"gpcm"}


def test_unknown_threshold_is_rejected(rng):
    with pytest.raises(ValueError, match="unknown threshold"):
        validate(_two_scale_instrument(), _generated_frame(rng, 50), thresholds={"alpah": 0.8})


@pytest.mark.parametrize("name", ["sjt-collaboration", "sql-fundamentals"])
def test_other_bundled_instruments(name):
    instrument = Instrument.bundled(name)
    result = validate(instrument, read_table(bundled_sample(name)), n_replications=3)
    scale = instrument.scales[0].id
    assert result.irt[scale].converged
    assert result.irt[scale].model == default_model(instrument, instrument.scale_items()[scale])
    assert result.exit_code in (0, 1)
    json.dumps(result.to_dict(), allow_nan=False)


def test_exit_code_counts_warnings_and_problems_not_notes(demo):
    import dataclasses

    from psychometrics.validation import FactorStructure

    note = Finding("instrument", "soft-skills-7", "", "parallel_analysis", 2.0, math.nan, "note",
                   "parallel analysis suggests 2 factors")
    warning = dataclasses.replace(note, severity="warning", message="a warning")
    problem = dataclasses.replace(note, severity="problem", message="a problem")
    for findings, expected in [((), 0), ((note,), 0), ((note, warning), 1), ((problem,), 1)]:
        result = dataclasses.replace(demo, findings=findings)
        assert result.exit_code == expected
        assert result.to_dict()["exit_code"] == expected
        structure = FactorStructure("pearson", None, None, None, None, None, None, findings)
        assert structure.exit_code == expected


def test_a_two_dimensional_scale_is_a_finding():
    # One "scale" whose first four items measure one trait and last four an unrelated one.
    from psychometrics.instrument import Instrument

    rng = np.random.default_rng(31)
    theta = rng.normal(size=(1200, 2))
    trait = np.repeat([0, 1], 4)
    latent = 1.7 * theta[:, trait] + rng.logistic(size=(1200, 8))
    codes = 1 + (latent[:, :, None] > np.array([-2.4, -0.8, 0.8, 2.4])).sum(axis=2)
    items = [f"m{j + 1}" for j in range(8)]
    frame = pd.DataFrame(codes, columns=items)
    frame.insert(0, "respondent_id", [f"r{i}" for i in range(1200)])
    likert = {"type": "likert", "options": [{"code": c, "label": str(c)} for c in range(1, 6)]}
    instrument = Instrument.from_dict({
        "id": "mixed", "version": "1", "title": "Two traits in one scale",
        "scales": [{"id": "mixed", "name": "Mixed"}],
        "items": [{"id": item, "text": item, "scale": "mixed", "response": likert} for item in items],
    })
    result = validate(instrument, frame, n_replications=2)
    messages = [f.message for f in result.findings if f.scale == "mixed"]
    assert any("may not be unidimensional" in m for m in messages), messages
    assert result.verdicts["mixed"] != "ok"


def test_validation_has_a_frame_and_a_one_line_repr(demo):
    frame = demo.to_frame()
    assert len(frame) == len(demo.findings)
    assert "\n" not in repr(demo) and repr(demo).startswith("Validation(soft-skills-7")
