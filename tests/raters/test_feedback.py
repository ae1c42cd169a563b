"""360-degree feedback on the bundled feedback-360 sample: anonymity rule, gaps and thresholds, agreement."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from psychometrics import agreement
from psychometrics.errors import ResponseError
from psychometrics.instrument import Instrument, bundled_sample
from psychometrics.raters import BLIND_SPOT, HIDDEN_STRENGTH, feedback, visible_roles

FORM = Instrument.bundled("feedback-360")
ROLES = ["manager", "peer", "direct_report"]


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(bundled_sample("feedback-360"), comment="#")


@pytest.fixture(scope="module")
def result(sample):
    return feedback(sample, FORM)


def _by_hand(sample: pd.DataFrame, target: str, competency: str) -> tuple[float, float, int]:
    """Self and others' mean of one target and competency straight from the file (9 = not observed)."""
    items = FORM.scale_items()[competency]
    rows = sample[sample.target_id == target]
    values = rows[items].where(rows[items] != 9)
    per_rater = values.mean(axis=1, skipna=True)[values.notna().sum(axis=1) >= FORM.scoring.min_answered]
    roles = rows.loc[per_rater.index, "rater_role"]
    return float(per_rater[roles == "self"].iloc[0]), float(per_rater[roles != "self"].mean()), int((roles != "self").sum())


def test_visible_roles_rule():
    assert visible_roles({"manager": 1, "peer": 3, "direct_report": 3}) == ["direct_report"]
    assert visible_roles({"manager": 1, "peer": 3, "direct_report": 4}) == ["direct_report"]
    assert visible_roles({"manager": 3, "peer": 3, "direct_report": 0}) == ["manager", "peer"]
    assert visible_roles({"manager": 1, "peer": 2, "direct_report": 3}) == ["direct_report"]
    assert visible_roles({"manager": 1, "peer": 1, "direct_report": 5}) == []
    assert visible_roles({"manager": 0, "peer": 4, "direct_report": 4}, min_raters=4) == ["peer", "direct_report"]


def test_anonymity_rule_on_the_bundled_sample(result):
    profile = result.profile
    # one manager per target: never shown on its own, in any target or competency
    assert (profile["n_manager"] == 1).all() and profile["manager"].isna().all()
    # every mean shown comes from at least 3 raters, and the raters not shown cannot be recovered by subtraction
    for role in ROLES:
        shown = profile[role].notna()
        assert (profile.loc[shown, f"n_{role}"] >= 3).all()
    hidden = sum(profile[f"n_{r}"].where(profile[r].isna(), 0) for r in ROLES)
    assert ((hidden == 0) | (hidden >= 3)).all()
    assert (profile["others"].notna() == (profile["n_others"] >= 3)).all()
    # with a manager and three peers withheld together, the direct reports (3) are shown
    full = (profile[["n_manager", "n_peer", "n_direct_report"]] == [1, 3, 3]).all(axis=1)
    assert full.sum() > 300
    assert profile.loc[full, "direct_report"].notna().all() and profile.loc[full, "peer"].isna().all()


def test_anonymity_with_fewer_raters(sample):
    data = sample.copy()
    peers_t1 = data.index[(data.target_id == "t0001") & (data.rater_role == "peer")]
    reports_t2 = data.index[(data.target_id == "t0002") & (data.rater_role == "direct_report")]
    others_t3 = data.index[(data.target_id == "t0003") & (data.rater_role != "self")]
    data = data.drop(index=[peers_t1[0], reports_t2[0], *others_t3[2:]])
    profile = feedback(data, FORM).profile
    t1, t2, t3 = (profile.xs(t, level="target") for t in ("t0001", "t0002", "t0003"))
    # t0001: manager 1 + peers 2 withheld together (3 raters), direct reports shown
    assert t1["peer"].isna().all() and t1["direct_report"].notna().all()
    # t0002: manager 1 + direct reports 2 withheld (3 raters), peers shown
    assert t2["peer"].notna().all() and t2["direct_report"].isna().all()
    # t0003: two other raters left: no others' mean, no gap, no flag, no role
    assert t3["others"].isna().all() and t3["gap"].isna().all() and (t3["flag"] == "").all()
    assert t3[ROLES].isna().all().all() and t3["self"].notna().all()


def test_gaps_and_thresholds_on_the_bundled_sample(sample, result):
    profile = result.profile
    for target, competency in [("t0001", "problem_solving"), ("t0002", "communication"), ("t0040", "leadership")]:
        own, others, n = _by_hand(sample, target, competency)
        row = profile.loc[(target, competency)]
        assert row["self"] == pytest.approx(own, abs=1e-12)
        assert row["others"] == pytest.approx(others, abs=1e-12)
        assert row["n_others"] == n
        assert row["gap"] == pytest.approx(own - others, abs=1e-12)
    # t0001 (the stated threshold 0.5): problem solving self 4.20 vs others 3.14 is a blind spot
    assert profile.loc[("t0001", "problem_solving"), "flag"] == BLIND_SPOT
    gap = profile["gap"]
    assert ((profile["flag"] == BLIND_SPOT) == (gap >= 0.5)).all()
    assert ((profile["flag"] == HIDDEN_STRENGTH) == (gap <= -0.5)).all()
    assert set(result.blind_spots().index) == set(profile.index[gap >= 0.5])
    assert len(result.blind_spots()) == 110 and len(result.hidden_strengths()) == 56
    wider = feedback(sample, FORM, threshold=1.0).profile
    assert ((wider["flag"] == BLIND_SPOT) == (gap >= 1.0)).all()
    assert (wider["flag"] != "").sum() < (profile["flag"] != "").sum()
    # item gaps: self's item rating against the mean of the others' ratings of that item
    items = result.items.loc["t0001"]
    rows = sample[sample.target_id == "t0001"]
    others = rows.loc[rows.rater_role != "self", "f_tea_5"]
    assert items.loc["f_tea_5", "others"] == pytest.approx(others[others != 9].mean())
    assert items.loc["f_tea_5", "self"] == rows.loc[rows.rater_role == "self", "f_tea_5"].iloc[0]


def test_agreement_halo_and_organisation_means(sample, result):
    prepared = FORM.prepare(sample)
    meta = prepared.metadata
    peers = (meta.rater_role == "peer").to_numpy()
    items = FORM.scale_items()["teamwork"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rwg = agreement.rwg_j(prepared.frame[peers].assign(t=meta.target_id[peers].to_numpy()), 5, group="t",
                              items=items)
    assert result.agreement.loc[("peer", "teamwork"), "rwg_j"] == pytest.approx(rwg["rwg_j"].mean())
    scores = result.scores
    peer_scores = scores[scores.role == "peer"][["target", "teamwork"]].dropna()
    icc = agreement.icc_aggregation(peer_scores, group="target", value="teamwork")
    assert result.agreement.loc[("peer", "teamwork"), "icc1"] == pytest.approx(icc.icc1)
    assert result.agreement.loc[("peer", "teamwork"), "icc2"] == pytest.approx(icc.icc2)
    assert "manager" not in result.agreement.index.get_level_values("role")  # one per target: undefined
    assert result.organisation.loc["teamwork", "peer"] == pytest.approx(peer_scores["teamwork"].mean())
    # the simulation makes self-ratings the most lenient (leniency 0.40 against 0.00 for managers)
    assert (result.organisation["self"] > result.organisation["manager"]).all()
    competencies = result.competencies
    block = scores.loc[scores.role == "manager", competencies].dropna()
    assert result.halo.loc["manager", "mean_sd"] == pytest.approx(block.std(axis=1, ddof=1).mean())
    assert 0.0 < result.halo.loc["peer", "mean_r"] < 1.0
    assert "blind spots (self - others >= 0.5): 110" in result.summary()


def test_team_views(sample, result):
    team = result.team()
    assert team.shape == (60, 7)
    assert team.loc["t0001", "problem_solving"] == pytest.approx(result.profile.loc[("t0001", "problem_solving"),
                                                                                     "others"])
    small = feedback(sample, FORM, scales={"teamwork": FORM.scale_items()["teamwork"]})
    adjusted = small.team("adjusted")
    assert adjusted.shape == (60, 1)
    # severity-adjusted measures order targets much like the others' means
    assert np.corrcoef(adjusted["teamwork"], small.team()["teamwork"])[0, 1] > 0.9


def test_input_errors(sample):
    with pytest.raises(ValueError, match="min_raters must be an integer of at least 3"):
        feedback(sample, FORM, min_raters=2)
    twice = pd.concat([sample, sample.iloc[[0]].assign(rating_id="g9999", rater_id="t0001")], ignore_index=True)
    with pytest.raises(ResponseError, match="rater 't0001' rates target 't0001' twice"):
        feedback(twice, FORM)
    with pytest.raises(ResponseError, match="column 'who' given as role="):
        feedback(sample, FORM, role="who")


def test_without_an_instrument_the_same_numbers(sample, result):
    items = FORM.item_ids
    plain = sample.drop(columns="rating_id")
    plain[items] = plain[items].where(plain[items] != 9)  # the instrument's "not able to observe"
    bare = feedback(plain, scales=FORM.scale_items(), n_options=5, min_answered=3)
    pd.testing.assert_frame_equal(bare.profile, result.profile)
    assert bare.roles == ROLES and bare.scale_range == (1.0, 5.0)
    with pytest.raises(ValueError, match="give scales="):
        feedback(plain)
