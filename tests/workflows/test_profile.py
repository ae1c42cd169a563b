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


def test_score_profiles_keeps_the_rules_of_scale_scores(sample):
    import numpy as np
    import pandas as pd

    from psychometrics.data import as_responses
    from psychometrics.workflows.profile import score_profiles

    soft, likert, scales = sample
    cals = {s: irt.calibrate(likert.subset(items), "graded") for s, items in scales.items()}
    frame = pd.DataFrame(likert.values, index=likert.person_ids, columns=likert.item_ids)
    frame.iloc[0, [likert.item_ids.index(i) for i in scales["teamwork"]]] = np.nan
    holed = as_responses(frame, categories=likert.categories)
    result = score_profiles(cals, holed)
    first = result.scores.iloc[0]
    # no answer on a scale: no score, even though the other scale would predict one
    assert np.isnan(first["teamwork_theta"]) and first["teamwork_flag"] == "no_responses"
    assert np.isfinite(first["communication_theta"])
    assert result.estimated and result.converged and result.n_iter > 0
    assert result.factor_correlations.loc["communication", "teamwork"] == pytest.approx(0.47, abs=0.01)
    # correlations given: nothing estimated, the same scores
    again = score_profiles(cals, holed, correlations=result.factor_correlations)
    assert again.n_iter == 0 and not again.estimated
    np.testing.assert_allclose(again.scores["teamwork_se"], result.scores["teamwork_se"], atol=1e-4)
    assert "smaller" in result.summary()

    with pytest.raises(ValueError, match="at least two scales"):
        score_profiles({"teamwork": cals["teamwork"]}, holed)
    with pytest.raises(ValueError, match="too few to estimate"):
        score_profiles(cals, as_responses(frame.iloc[:20], categories=likert.categories))
    rasch = dict(cals, teamwork=irt.calibrate(likert.subset(scales["teamwork"]), "rsm"))
    with pytest.raises(ValueError, match="scale 'teamwork'.*recalibrate"):
        score_profiles(rasch, likert)
