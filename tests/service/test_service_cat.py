"""Adaptive tests through the service: start, answer, resume after restart, tenancy, bad input.

Known answers: the service's final scores equal a ``cat.Session`` driven in-process with the
same options, seed and answers (theta and SE to 1e-12); T and percentile are
``norm_scores(theta, mean=0, sd=1)``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa

from psychometrics import cat
from psychometrics.bank import ItemBank
from psychometrics.norms import norm_scores

OPTIONS = {"selection": "mfi", "stop": {"se": 0.45, "min_items": 3, "max_items": 6}, "seed": 5,
           "respondent": "r-001"}


def _upload(service, document, tenant="acme"):
    response = service.client.post("/v1/banks?name=cat", json=document, headers=service.headers(tenant))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _answer_for(item: str, categories: dict[str, list[int]]) -> int:
    codes = categories[item]
    return codes[len(item) % len(codes)]  # deterministic, varied across items


def _categories(document) -> dict[str, list[int]]:
    bank = ItemBank.from_json(json.dumps(document))
    return {item: list(c.categories[item]) for c in bank.scales.values() for item in c.item_ids}


def test_whole_test_equals_an_in_process_session(service, bank_document):
    client = service.client
    bank_id = _upload(service, bank_document)
    categories = _categories(bank_document)
    started = client.post(f"/v1/banks/{bank_id}/cat", json=OPTIONS, headers=service.headers())
    assert started.status_code == 201, started.text
    state = started.json()
    session_id = state["session"]
    assert len(session_id) == 32 and state["respondent"] == "r-001" and state["position"] == 1

    local = cat.Session(ItemBank.from_json(json.dumps(bank_document)),
                        **{k: v for k, v in OPTIONS.items() if k != "respondent"})
    steps = 0
    while not state["done"]:
        assert state["item"] == local.next_item()
        response = _answer_for(state["item"], categories)
        local.answer(state["item"], response)
        reply = client.post(f"/v1/cat/{session_id}/answers", json={"item": state["item"], "response": response},
                            headers=service.headers())
        assert reply.status_code == 200, reply.text
        state = reply.json()
        steps += 1
        assert steps <= 6
    assert local.done and state["state"] == "done" and state["item"] is None
    scores = state["scores"]
    assert scores["theta"] == pytest.approx(local.theta, abs=1e-12)
    assert scores["se"] == pytest.approx(local.se, abs=1e-12)
    expected = norm_scores(np.array([local.theta]), mean=0.0, sd=1.0)
    assert scores["T"] == pytest.approx(float(expected["t"].iloc[0]), abs=1e-9)
    assert scores["percentile"] == pytest.approx(float(expected["percentile"].iloc[0]), abs=1e-9)
    assert scores["n_items"] == steps == len(local.administered) and scores["flags"] == []
    assert scores["stop_reason"] == local.stop_reason

    stored = client.get(f"/v1/cat/{session_id}", headers=service.headers()).json()
    assert stored["scores"] == scores
    assert [a["item"] for a in stored["answers"]] == local.administered
    # the test is over: a further answer is refused with 422, not 500
    late = client.post(f"/v1/cat/{session_id}/answers", json={"item": local.administered[0], "response": 1},
                       headers=service.headers())
    assert late.status_code == 422 and "over" in late.text

    # the stored row: bank, tenant, state and the session document without the bank
    from psychometrics.service.store import make_engine
    engine = make_engine(service.url)
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT state, document, respondent FROM cat_sessions WHERE id = :id"),
                                 {"id": session_id}).one()
    engine.dispose()
    assert row.state == "done" and row.respondent == "r-001"
    assert json.loads(row.document)["calibration"] is None


def test_bad_input_is_422_naming_the_item(service, bank_document):
    client = service.client
    bank_id = _upload(service, bank_document)
    state = client.post(f"/v1/banks/{bank_id}/cat", json=OPTIONS, headers=service.headers()).json()
    url = f"/v1/cat/{state['session']}/answers"
    pending = state["item"]
    other = next(item for item in _categories(bank_document) if item != pending)

    unknown = client.post(url, json={"item": "no_such_item", "response": 1}, headers=service.headers())
    assert unknown.status_code == 422 and "no_such_item" in unknown.text and pending in unknown.text
    wrong = client.post(url, json={"item": other, "response": 1}, headers=service.headers())
    assert wrong.status_code == 422 and f"'{other}' is not the pending item '{pending}'" in wrong.text
    outside = client.post(url, json={"item": pending, "response": 99}, headers=service.headers())
    assert outside.status_code == 422 and pending in outside.text and "99" in outside.text
    for body in ({"item": pending}, {"item": pending, "response": "x"}, {"response": 1}, [], "x",
                 {"item": pending, "response": 1, "extra": 1}):
        assert client.post(url, json=body, headers=service.headers()).status_code == 422
    # nothing was recorded by the refused answers
    assert client.get(f"/v1/cat/{state['session']}", headers=service.headers()).json()["answers"] == []
    for options in ({"selection": "nope"}, {"stop": {"max_items": -1}}, {"content": {"nope": 1.0}},
                    {"exposure": "nope"}, {"seed": -1}, {"unknown": 1}):
        response = client.post(f"/v1/banks/{bank_id}/cat", json=options, headers=service.headers())
        assert response.status_code == 422, (options, response.text)
    assert client.post("/v1/banks/nope/cat", json={}, headers=service.headers()).status_code == 404
    assert client.post(f"/v1/banks/{bank_id}/cat", json={}).status_code == 401


def test_sessions_belong_to_their_tenant(service, bank_document):
    client = service.client
    bank_id = _upload(service, bank_document)
    state = client.post(f"/v1/banks/{bank_id}/cat", json=OPTIONS, headers=service.headers()).json()
    sid = state["session"]
    assert client.get(f"/v1/cat/{sid}", headers=service.headers("globex")).status_code == 404
    stolen = client.post(f"/v1/cat/{sid}/answers", json={"item": state["item"], "response": 1},
                         headers=service.headers("globex"))
    assert stolen.status_code == 404
    assert client.post(f"/v1/banks/{bank_id}/cat", json={}, headers=service.headers("globex")).status_code == 404
    assert client.get(f"/v1/cat/{sid}", headers=service.headers()).json()["answers"] == []


def test_session_resumes_after_restart(store_url, make_keys, bank_document):
    from fastapi.testclient import TestClient

    from psychometrics.service import Settings, create_app

    keys = make_keys(store_url, "acme")
    headers = {"Authorization": f"Bearer {keys['acme']}"}
    categories = _categories(bank_document)
    options = {**OPTIONS, "stop": {"max_items": 5}, "selection": "random"}
    answered = []
    with TestClient(create_app(Settings(database_url=store_url, rate_limit=0))) as client:
        bank_id = client.post("/v1/banks?name=cat", json=bank_document, headers=headers).json()["id"]
        state = client.post(f"/v1/banks/{bank_id}/cat", json=options, headers=headers).json()
        for _ in range(2):
            answered.append((state["item"], _answer_for(state["item"], categories)))
            state = client.post(f"/v1/cat/{state['session']}/answers",
                                json={"item": answered[-1][0], "response": answered[-1][1]}, headers=headers).json()
        pending = state["item"]
    # a new process: fresh caches, the same store
    with TestClient(create_app(Settings(database_url=store_url, rate_limit=0))) as client:
        again = client.get(f"/v1/cat/{state['session']}", headers=headers).json()
        assert again["item"] == pending and [a["item"] for a in again["answers"]] == [i for i, _ in answered]
        while not state["done"]:
            answered.append((state["item"], _answer_for(state["item"], categories)))
            state = client.post(f"/v1/cat/{state['session']}/answers",
                                json={"item": answered[-1][0], "response": answered[-1][1]}, headers=headers).json()
    local = cat.Session(ItemBank.from_json(json.dumps(bank_document)),
                        **{k: v for k, v in options.items() if k != "respondent"})
    for item, response in answered:
        assert local.next_item() == item  # the random choices continue from the stored generator state
        local.answer(item, response)
    assert local.done and state["scores"]["theta"] == pytest.approx(local.theta, abs=1e-12)
