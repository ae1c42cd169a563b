"""The HTTP API on SQLite and PostgreSQL: keys and tenants, banks, scoring, responses, limits."""

from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from psychometrics.service.keys import revoke_key
from psychometrics.service.store import make_engine


def upload(service, document, name="team", tenant="acme"):
    response = service.client.post(f"/v1/banks?name={name}", json=document, headers=service.headers(tenant))
    assert response.status_code == 201, response.text
    return response.json()


def test_health_and_openapi(service):
    assert service.client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    paths = service.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/banks", "/v1/banks/{bank_id}", "/v1/banks/{bank_id}/score", "/v1/responses",
                 "/v1/responses/{response_id}", "/v1/scores", "/healthz"):
        assert path in paths


def test_keys_are_required_and_revocable(service):
    client = service.client
    assert client.get("/v1/banks").status_code == 401
    assert client.get("/v1/banks", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    forged = service.keys["acme"][:-4] + "AAAA"
    assert client.get("/v1/banks", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert client.get("/v1/banks", headers=service.headers()).status_code == 200
    engine = make_engine(service.url)
    with Session(engine) as session:
        revoke_key(session, service.keys["acme"])
        session.commit()
    engine.dispose()
    assert client.get("/v1/banks", headers=service.headers()).status_code == 401
    assert client.get("/v1/banks", headers=service.headers("globex")).status_code == 200


def test_bank_versions_and_tenants(service, bank_document):
    first = upload(service, bank_document)
    second = upload(service, bank_document)
    assert (first["name"], first["version"], second["version"]) == ("team", 1, 2)
    assert first["id"] != second["id"]
    assert set(first["scales"]) == {"teamwork", "leadership", "knowledge"}
    listed = service.client.get("/v1/banks", headers=service.headers()).json()
    assert [b["version"] for b in listed["items"]] == [1, 2] and listed["next"] is None
    got = service.client.get(f"/v1/banks/{first['id']}", headers=service.headers()).json()
    assert got["scales"]["knowledge"]["items"] == ["kno_1", "kno_2", "kno_3", "kno_4", "kno_5"]
    # another tenant sees nothing, and cannot tell the bank exists
    other = service.headers("globex")
    assert service.client.get(f"/v1/banks/{first['id']}", headers=other).status_code == 404
    assert service.client.get("/v1/banks", headers=other).json()["items"] == []
    body = {"responses": [{"respondent": "r1", "answers": {"tea_1": 3}}]}
    assert service.client.post(f"/v1/banks/{first['id']}/score", json=body, headers=other).status_code == 404
    assert upload(service, bank_document, tenant="globex")["version"] == 1


def test_invalid_bank_is_422_with_the_library_message(service, bank_document):
    broken = copy.deepcopy(bank_document)
    broken["scales"]["teamwork"]["items"] = ["tea_1"]
    response = service.client.post("/v1/banks?name=x", json=broken, headers=service.headers())
    assert response.status_code == 422
    assert "scale 'teamwork'" in response.json()["detail"]
    response = service.client.post("/v1/banks", json=bank_document, headers=service.headers())
    assert response.status_code == 422 and "name" in response.json()["detail"]
    response = service.client.post("/v1/banks?name=x", json={"format": "nope"}, headers=service.headers())
    assert response.status_code == 422 and "not an item bank" in response.json()["detail"]


def test_scoring_errors_name_respondent_and_item(service, bank_document):
    bank = upload(service, bank_document)
    url = f"/v1/banks/{bank['id']}/score"
    body = {"responses": [{"respondent": "r1", "answers": {"tea_1": 3}},
                          {"respondent": "r2", "answers": {"tea_1": 9, "nope": 1}}]}
    response = service.client.post(url, json=body, headers=service.headers())
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [(p["respondent"], p["item"]) for p in problems] == [("r2", "tea_1"), ("r2", "nope")]
    assert "code 9 is outside the item's categories 1-5" in problems[0]["msg"]
    assert problems[0]["loc"] == ["body", "responses", 1, "answers", "tea_1"]
    too_many = {"responses": [{"respondent": f"r{i}", "answers": {"tea_1": 2}} for i in range(1001)]}
    assert service.client.post(url, json=too_many, headers=service.headers()).status_code == 413
    assert service.client.post(url, json={"method": "xyz", "responses": body["responses"][:1]},
                               headers=service.headers()).status_code == 422


def test_responses_are_idempotent_and_paginated(service, bank_document):
    bank = upload(service, bank_document)
    client = service.client
    body = {"respondent": "r1", "answers": {"tea_1": 4, "lea_2": 1, "kno_1": 1}, "bank": bank["id"]}
    first = client.post("/v1/responses", json=body, headers=service.headers(**{"Idempotency-Key": "a"}))
    assert first.status_code == 201, first.text
    again = client.post("/v1/responses", json=body, headers=service.headers(**{"Idempotency-Key": "a"}))
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = dict(body, answers={"tea_1": 5})
    assert client.post("/v1/responses", json=changed,
                       headers=service.headers(**{"Idempotency-Key": "a"})).status_code == 422
    assert client.post("/v1/responses", json=body, headers=service.headers()).status_code == 400
    # the same key of another tenant is another submission
    other = client.post("/v1/responses", json={"respondent": "x", "answers": {}},
                        headers=service.headers("globex", **{"Idempotency-Key": "a"}))
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]

    stored = client.get(f"/v1/responses/{first.json()['id']}", headers=service.headers()).json()
    assert stored["answers"] == body["answers"]
    assert stored["scales"] == first.json()["scales"]
    assert client.get(f"/v1/responses/{first.json()['id']}", headers=service.headers("globex")).status_code == 404

    for key in ("b", "c"):
        assert client.post("/v1/responses", json=dict(body, respondent=key),
                           headers=service.headers(**{"Idempotency-Key": key})).status_code == 201
    engine = make_engine(service.url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM responses")).scalar() == 4
        assert connection.execute(sa.text("SELECT count(*) FROM scores")).scalar() == 9
    engine.dispose()
    page = client.get(f"/v1/scores?bank={bank['id']}&limit=2", headers=service.headers()).json()
    assert [item["respondent"] for item in page["items"]] == ["r1", "b"]
    rest = client.get(f"/v1/scores?bank={bank['id']}&limit=2&after={page['next']}", headers=service.headers()).json()
    assert [item["respondent"] for item in rest["items"]] == ["c"] and rest["next"] is None
    assert rest["items"][0]["scales"]["teamwork"]["n_answered"] == 1
    assert client.get(f"/v1/scores?bank={bank['id']}", headers=service.headers("globex")).status_code == 404
    assert client.get("/v1/scores?after=unknown", headers=service.headers()).status_code == 422


def test_body_over_one_megabyte_is_413(service):
    big = b'{"respondent": "r1", "answers": {}, "pad": "' + b"x" * 1_100_000 + b'"}'
    response = service.client.post("/v1/responses", content=big, headers=service.headers(**{
        "Idempotency-Key": "big", "Content-Type": "application/json"}))
    assert response.status_code == 413


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_rate_limit_is_429(store_url, make_keys):
    from fastapi.testclient import TestClient

    from psychometrics.service import Settings, create_app

    keys = make_keys(store_url, "acme")
    app = create_app(Settings(database_url=store_url, rate_limit=0.5, rate_burst=3))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {keys['acme']}"}
        codes = [client.get("/v1/banks", headers=headers).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        limited = client.get("/v1/banks", headers=headers)
        assert int(limited.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_banks_of_an_uploaded_instrument(service, soft_skills_document):
    from psychometrics.instrument import Instrument

    instrument = Instrument.bundled("soft-skills-7").to_dict()
    instrument.update(id="acme-skills", version="2.1")
    bank = copy.deepcopy(soft_skills_document)
    bank["instrument"] = {"id": "acme-skills", "version": "2.1", "title": "ACME skills"}
    client, headers = service.client, service.headers()
    refused = client.post("/v1/banks", json=bank, headers=headers)
    assert refused.status_code == 422 and "POST /v1/instruments" in refused.json()["detail"]
    stored = client.post("/v1/instruments", json=instrument, headers=headers)
    assert stored.status_code == 201 and stored.json()["instrument_id"] == "acme-skills"
    assert client.post("/v1/instruments", json=instrument, headers=headers).json()["id"] == stored.json()["id"]
    changed = dict(instrument, title="Something else")
    assert client.post("/v1/instruments", json=changed, headers=headers).status_code == 409
    created = client.post("/v1/banks", json=bank, headers=headers)
    assert created.status_code == 201 and created.json()["name"] == "acme-skills"
    # reverse-keyed com_03 is keyed by the stored instrument: 1 scores as 5 would without keying
    body = {"responses": [{"respondent": "a", "answers": {"com_03": 1}},
                          {"respondent": "b", "answers": {"com_03": 5}}]}
    scores = client.post(f"/v1/banks/{created.json()['id']}/score", json=body, headers=headers).json()["scores"]
    assert scores[0]["scales"]["communication"]["theta"] > scores[1]["scales"]["communication"]["theta"]
    assert client.get("/v1/instruments", headers=service.headers("globex")).json()["items"] == []
