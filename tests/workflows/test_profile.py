"""The scales as one correlated-factors model (validate --model mirt)."""

from __future__ import annotations

import pytest

from psychometrics import Instrument, irt
from psychometrics.instrument import bundled_sample
from psychometrics.scoring import marginal_reliability
from psychometrics.workflows.profile import high_correlations, profile_model
from psychometrics.workflows.validation import ScaleIRT, _profile


@pytest.fixture(scope="module")
def sample():
    soft = Instrument.bundled("soft-skills-7")
    likert = soft.prepare(bundled_sample("soft-skills-7"))
    scales = {k: soft.scale_items()[k] for k in ("communication", "teamwork")}
    return soft, likert, scales


def test_profile_model_borrows_strength(sample):
    soft, likert, scales = sample
    alone = {}
    for s, items in scales.items():
        cal = irt.calibrate(likert.subset(items), "graded")
        alone[s] = irt.score(cal, likert.subset(items))[["theta", "se"]]
    rxx = {s: marginal_reliability(irt.calibrate(likert.subset(items), "graded")) for s, items in scales.items()}
    profile = profile_model(likert, scales, {s: "graded" for s in scales}, alone, alone_reliability=rxx)
    assert profile.error == "" and profile.calibration.converged
    assert profile.factor_correlations.loc["communication", "teamwork"] == pytest.approx(0.47, abs=0.005)
    rel = profile.reliability
    assert (rel["se_profile"] < rel["se_alone"]).all()
    assert (rel["profile"] > rel["alone"]).all()
    # the model's marginal reliability per factor gains from the correlated scale too
    assert (rel["marginal_profile"] > rel["marginal_alone"]).all()
    assert rel.loc["communication", "marginal_alone"] == pytest.approx(0.7841, abs=1e-4)
    assert rel.loc["communication", "marginal_profile"] == pytest.approx(0.7935, abs=2e-3)
    assert list(profile.scores.columns[:2]) == ["theta_communication", "theta_teamwork"]
    assert high_correlations(profile) == []
    assert high_correlations(profile, threshold=0.4) == [("communication", "teamwork", pytest.approx(0.47, abs=0.005))]


def test_profile_needs_two_scales_and_reports_findings(sample):
    soft, likert, scales = sample
    one = profile_model(likert, {"communication": scales["communication"]}, {"communication": "graded"})
    assert one.calibration is None and "at least two scales" in one.error
    findings: list = []
    results = {s: ScaleIRT(s, "graded", None, float("nan"), None, None) for s in scales}
    profile = _profile(soft, likert, scales, results, findings)
    assert profile.calibration is not None
    assert all(f.statistic != "factor_correlation" for f in findings)


def test_profile_result_reads_in_one_line_and_as_a_frame() -> None:
    from psychometrics.workflows.profile import ProfileIRT

    failed = ProfileIRT(None, None, None, None, (), "a profile model needs at least two scales")
    assert repr(failed) == "ProfileIRT(error='a profile model needs at least two scales')"
    assert failed.summary() == "profile model: not fitted (a profile model needs at least two scales)"
    assert list(failed.to_frame().columns) == ["marginal_profile", "marginal_alone", "profile", "alone", "se_profile",
                                               "se_alone"]
