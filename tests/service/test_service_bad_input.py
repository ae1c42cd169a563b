"""Bad input is a 4xx, never a 500: hypothesis over request bodies (bounded number of examples)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

ITEMS = ["tea_1", "tea_2", "lea_3", "kno_1", "kno_5"]
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)


@pytest.fixture(scope="module")
def api(tmp_path_factory, bank_document, soft_skills_document, make_keys):
    from fastapi.testclient import TestClient

    from psychometrics.service import Settings, create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('bad-input') / 'store.db'}"
    keys = make_keys(url, "acme")
    with TestClient(create_app(Settings(database_url=url, rate_limit=0))) as client:
        headers = {"Authorization": f"Bearer {keys['acme']}"}
        bank = client.post("/v1/banks?name=team", json=bank_document, headers=headers).json()["id"]
        keyed = client.post("/v1/banks", json=soft_skills_document, headers=headers).json()["id"]
        yield client, headers, bank, keyed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
codes = (st.integers(min_value=-10, max_value=10) | st.integers() | st.floats() | st.text(max_size=5)
         | st.none() | st.booleans() | st.lists(st.integers(), max_size=2))
answers = st.dictionaries(st.sampled_from(ITEMS) | st.text(max_size=10), codes, max_size=6)
respondents = st.text(max_size=30) | st.integers() | st.none()
entries = st.fixed_dictionaries({"respondent": respondents, "answers": answers},
                                optional={"extra": json_values})
score_bodies = st.fixed_dictionaries(
    {"responses": st.lists(entries, max_size=4) | json_values},
    optional={"method": st.sampled_from(["eap", "MAP", "ml", "wle", "mle", ""]) | json_values})
response_bodies = st.fixed_dictionaries(
    {"respondent": respondents, "answers": answers | json_values},
    optional={"bank": st.text(max_size=40) | json_values, "method": st.sampled_from(["eap", "wle", "x"])})
raw_bodies = st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8"))


def _post(client, path, body, headers):
    # encoded here: NaN and Infinity (which Python's json reads) must reach the server
    content = json.dumps(body, allow_nan=True).encode("utf-8")
    return client.post(path, content=content, headers={**headers, "Content-Type": "application/json"})


def _check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    json.loads(response.text)  # every answer, errors included, is JSON


@EXAMPLES
@given(body=score_bodies | json_values)
def test_score_bodies(api, body):
    client, headers, bank, _ = api
    _check(_post(client, f"/v1/banks/{bank}/score", body, headers))


@EXAMPLES
@given(body=response_bodies | json_values, key=st.text(st.characters(min_codepoint=33, max_codepoint=126),
                                                      max_size=300), with_bank=st.booleans())
def test_response_bodies(api, body, key, with_bank):
    client, headers, bank, _ = api
    if with_bank and isinstance(body, dict):
        body = dict(body, bank=bank)
    _check(_post(client, "/v1/responses", body, {**headers, "Idempotency-Key": key}))


@EXAMPLES
@given(raw=raw_bodies, path=st.sampled_from(["/v1/banks?name=x", "/v1/responses", "/v1/instruments", "score"]))
def test_raw_bodies(api, raw, path):
    client, headers, bank, _ = api
    path = f"/v1/banks/{bank}/score" if path == "score" else path
    _check(client.post(path, content=raw, headers={**headers, "Content-Type": "application/json",
                                                   "Idempotency-Key": "raw"}))


@settings(max_examples=15, deadline=None, derandomize=True)
@given(body=json_values)
def test_bank_and_instrument_documents(api, body):
    client, headers, _, _ = api
    _check(_post(client, "/v1/banks?name=x", body, headers))
    _check(_post(client, "/v1/instruments", body, headers))


keyed_answers = st.dictionaries(st.sampled_from(["com_01", "com_03", "tea_07", "cre_02"]) | st.text(max_size=6),
                                codes, max_size=5)


@EXAMPLES
@given(entries=st.lists(st.fixed_dictionaries({"respondent": st.text(min_size=1, max_size=5),
                                               "answers": keyed_answers}), min_size=1, max_size=4))
def test_instrument_bank_answers(api, entries):
    """Codes of an instrument-keyed bank are checked by the instrument: still never a 500."""
    client, headers, _, keyed = api
    _check(_post(client, f"/v1/banks/{keyed}/score", {"responses": entries}, headers))
