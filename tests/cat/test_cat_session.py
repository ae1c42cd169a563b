"""cat.Session: known answers against irt.item_information and irt.score, persistence, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cat_pools import graded_pool, mixed_pool, two_pl_pool

from psychometrics import cat, irt
from psychometrics.bank import ItemBank
from psychometrics.errors import ResponseError


def _answers(calibration, theta: float, seed: int):
    """A responder at ``theta``: item -> a code drawn from the model (fixed per item and seed)."""
    rng = np.random.default_rng(seed)
    prob = calibration.probabilities(np.array([theta]))[:, 0, :]
    draws = {}
    for j, item in enumerate(calibration.item_ids):
        k = int(rng.choice(prob.shape[1], p=prob[j] / prob[j].sum()))
        draws[item] = calibration.categories[item][k]
    return draws


def _run(session, answers, omit=()):
    while (item := session.next_item()) is not None:
        session.answer(item, None if item in omit else answers[item])
    return session


@pytest.mark.parametrize("make", [two_pl_pool, graded_pool, mixed_pool])
def test_mfi_picks_the_argmax_of_item_information_and_interim_eap_equals_score(make):
    calibration = make()
    answers = _answers(calibration, 0.7, seed=3)
    omitted = {calibration.item_ids[2]}
    session = cat.Session(calibration, stop={"max_items": min(8, calibration.n_items)}, seed=1)
    given: list[str] = []
    theta_before = 0.0  # start_theta
    while (item := session.next_item()) is not None:
        info = irt.item_information(calibration, theta_before)
        remaining = info.drop(columns=given)
        assert item == remaining.columns[int(np.argmax(remaining.to_numpy()[0]))]
        session.answer(item, None if item in omitted else answers[item])
        given.append(item)
        # interim EAP on the answered items equals irt.score (omitted items left out)
        frame = pd.DataFrame([{i: (np.nan if i in omitted else answers[i]) for i in given}], dtype=float)
        expected = irt.score(calibration, frame)
        assert session.theta == pytest.approx(expected["theta"].iloc[0], abs=1e-10)
        assert session.se == pytest.approx(expected["se"].iloc[0], abs=1e-10)
        assert session.history["theta"].iloc[-1] == pytest.approx(session.theta, abs=1e-12)
        theta_before = session.theta
    assert session.done and session.stop_reason == "max_items"
    assert session.administered == given
    assert list(session.history["item"]) == given


def test_engine_information_equals_item_information():
    calibration = mixed_pool()
    session = cat.Session(calibration, seed=0)
    theta = np.array([-1.3, 0.0, 0.4, 2.2])
    ours = session._engine.information(theta)
    reference = irt.item_information(calibration, theta).to_numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=0)


@pytest.mark.parametrize("make", [two_pl_pool, graded_pool])
def test_whole_bank_without_stopping_scores_as_the_full_test(make):
    calibration = make(n_items=15)
    answers = _answers(calibration, -0.4, seed=5)
    session = _run(cat.Session(calibration, stop={"max_items": calibration.n_items}, seed=2), answers)
    assert sorted(session.administered) == sorted(calibration.item_ids)
    assert session.stop_reason == "max_items"
    full = irt.score(calibration, pd.DataFrame([answers], dtype=float))
    assert session.theta == pytest.approx(full["theta"].iloc[0], abs=1e-10)
    assert session.se == pytest.approx(full["se"].iloc[0], abs=1e-10)


@pytest.mark.parametrize("method", ["map", "wle", "ml"])
def test_reported_score_uses_the_scoring_method(method):
    calibration = graded_pool()
    answers = _answers(calibration, 0.3, seed=8)
    session = _run(cat.Session(calibration, scoring=method, stop={"max_items": 6}, seed=4), answers)
    frame = pd.DataFrame([{i: answers[i] for i in session.administered}], dtype=float)
    expected = irt.score(calibration, frame, method=method)
    assert session.theta == pytest.approx(expected["theta"].iloc[0], abs=1e-8)
    assert session.se == pytest.approx(expected["se"].iloc[0], abs=1e-8)


def test_se_stopping_rule_and_min_items():
    calibration = two_pl_pool(60)
    answers = _answers(calibration, 0.2, seed=1)
    session = _run(cat.Session(calibration, stop={"se": 0.45, "min_items": 5, "max_items": 40}, seed=0), answers)
    history = session.history
    assert session.stop_reason == "se"
    assert len(history) >= 5 and history["se"].iloc[-1] <= 0.45
    # it did not stop earlier although allowed to
    earlier = history["se"].iloc[4:-1]
    assert (earlier > 0.45).all()


@pytest.mark.parametrize("options", [
    {"selection": "progressive"},
    {"selection": "random"},
    {"selection": "mfi", "exposure": {"randomesque": 4}},
    {"selection": "kl", "exposure": "randomesque"},
    {"selection": "mepv"},
])
def test_stored_session_resumes_with_the_same_items(options):
    calibration = two_pl_pool(30)
    answers = _answers(calibration, 0.5, seed=2)
    whole = _run(cat.Session(calibration, stop={"max_items": 10}, seed=123, **options), answers)

    session = cat.Session(calibration, stop={"max_items": 10}, seed=123, **options)
    for _ in range(4):
        item = session.next_item()
        session.answer(item, answers[item])
    pending = session.next_item()
    text = session.to_json()
    json.loads(text)  # plain JSON
    resumed = cat.Session.from_json(text)
    assert resumed.next_item() == pending
    _run(resumed, answers)
    assert resumed.administered == whole.administered
    assert resumed.theta == pytest.approx(whole.theta, abs=1e-12)
    pd.testing.assert_frame_equal(resumed.history, whole.history)


def test_session_without_its_bank_needs_the_same_bank():
    calibration = two_pl_pool(20)
    session = cat.Session(calibration, seed=5)
    session.answer(session.next_item(), 1)
    text = session.to_json(include_bank=False)
    with pytest.raises(ValueError, match="pass bank="):
        cat.Session.from_json(text)
    assert cat.Session.from_json(text, bank=calibration).administered == session.administered
    with pytest.raises(ValueError, match="fingerprint"):
        cat.Session.from_json(text, bank=two_pl_pool(20, seed=99))
    with pytest.raises(ValueError, match="not a CAT session"):
        cat.Session.from_json('{"format": "other"}')
    with pytest.raises(ValueError, match=r"field\(s\) \['answers'\] missing"):
        doc = json.loads(text)
        del doc["answers"]
        cat.Session.from_json(json.dumps(doc), bank=calibration)


def test_service_api_returns_plain_json_values():
    calibration = graded_pool()
    answers = _answers(calibration, 1.0, seed=4)
    session = cat.Session(calibration, stop={"max_items": 3}, seed=9)
    step = session.start()
    assert step["position"] == 1 and step["done"] is False and step["n_items"] == 0
    while not step["done"]:
        step = session.submit(step["item"], answers[step["item"]])
        json.dumps(step, allow_nan=False)
    assert step["item"] is None and step["n_items"] == 3 and step["stop_reason"] == "max_items"
    assert step["theta"] == pytest.approx(session.theta)


def test_answer_errors_name_the_item_and_value():
    calibration = graded_pool()
    session = cat.Session(calibration, stop={"max_items": 1}, seed=0)
    with pytest.raises(ResponseError, match="call next_item"):
        session.answer("g00", 1)
    item = session.next_item()
    other = next(i for i in calibration.item_ids if i != item)
    with pytest.raises(ResponseError, match=f"pending item is '{item}'"):
        session.answer(other, 1)
    with pytest.raises(ResponseError, match=rf"item '{item}' \(position 1\): response 7 is not one of its categories 1, 2, 3, 4"):
        session.answer(item, 7)
    with pytest.raises(ResponseError, match="not one of its categories"):
        session.answer(item, "high")
    session.answer(item, 4)
    assert session.done and session.next_item() is None
    with pytest.raises(ResponseError, match="the test is over"):
        session.answer(item, 4)


def test_invalid_settings_are_refused():
    calibration = two_pl_pool(10)
    with pytest.raises(ValueError, match="selection must be one of"):
        cat.Session(calibration, selection="best")
    with pytest.raises(ValueError, match="unknown key"):
        cat.Session(calibration, stop={"max_item": 3})
    with pytest.raises(ValueError, match="min_items"):
        cat.Session(calibration, stop={"min_items": 12, "max_items": 20})
    with pytest.raises(ValueError, match="content= needs content areas"):
        cat.Session(calibration, content={"a": 1.0})
    with pytest.raises(ValueError, match="enemies"):
        cat.Session(calibration, enemies=[["q00", "nope"]])
    with pytest.raises(ValueError, match="as cut="):
        cat.Session(calibration, stop={"cut": 0.5})
    with pytest.raises(ValueError, match="cut must be a finite theta"):
        cat.Session(calibration, cut="high")


def test_item_bank_scales_are_content_areas():
    a, b = two_pl_pool(12, seed=1), two_pl_pool(12, seed=2)
    b = irt.Calibration.from_item_params(b.item_params.set_axis([f"r{j:02d}" for j in range(12)]), "2pl")
    bank = ItemBank(scales={"communication": a, "teamwork": b})
    session = cat.Session(bank, content={"communication": 0.5, "teamwork": 0.5}, stop={"max_items": 6}, seed=3)
    answers = {**_answers(a, 0.0, 1), **_answers(b, 0.0, 2)}
    _run(session, answers)
    areas = ["communication" if i.startswith("q") else "teamwork" for i in session.administered]
    assert areas.count("communication") == 3 and areas.count("teamwork") == 3
    shifted = irt.Calibration.from_item_params(b.item_params, "2pl", latent_mean=0.5)
    with pytest.raises(ValueError, match="not on one metric"):
        cat.Session(ItemBank(scales={"communication": a, "teamwork": shifted}))


def test_bank_session_round_trip_keeps_areas_and_enemies():
    a, b = two_pl_pool(10, seed=1), two_pl_pool(10, seed=2)
    b = irt.Calibration.from_item_params(b.item_params.set_axis([f"r{j:02d}" for j in range(10)]), "2pl")
    bank = ItemBank(scales={"communication": a, "teamwork": b})
    best = irt.item_information(a, 0.0).iloc[0].sort_values(ascending=False).index
    enemies = [[best[0], best[1]]]
    options = dict(content={"communication": 0.5, "teamwork": 0.5}, enemies=enemies, stop={"max_items": 8})
    answers = {**_answers(a, 0.0, 1), **_answers(b, 0.0, 2)}
    whole = _run(cat.Session(bank, seed=3, **options), answers)
    assert len(set(whole.administered) & set(enemies[0])) == 1
    session = cat.Session(bank, seed=3, **options)
    for _ in range(3):
        item = session.next_item()
        session.answer(item, answers[item])
    resumed = _run(cat.Session.from_json(session.to_json(include_bank=False), bank=bank), answers)
    assert resumed.administered == whole.administered
    again = _run(cat.Session.from_json(session.to_json()), answers)
    assert again.administered == whole.administered


def test_classifying_session_resumes():
    calibration = two_pl_pool(40)
    options = dict(cut=0.4, stop={"classification": "sprt", "max_items": 25})
    session = cat.Session(calibration, seed=2, **options)
    for _ in range(3):
        session.answer(session.next_item(), 1)
    resumed = cat.Session.from_json(session.to_json())
    while (item := resumed.next_item()) is not None:
        resumed.answer(item, 1)
    assert resumed.classification == "pass" and resumed.stop_reason == "classification"
    assert json.loads(resumed.to_json())["options"]["stop"]["cut"] == 0.4
