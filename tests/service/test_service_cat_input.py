"""Adaptive-test bodies: Sympson-Hetter exposure parameters over HTTP, and never a 500 for
bad input (hypothesis over start and answer bodies, bounded number of examples)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from psychometrics import cat
from psychometrics.bank import ItemBank

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)
ITEMS = ["tea_1", "tea_2", "lea_3", "kno_1", "kno_5"]


def _items(document) -> list[str]:
    bank = ItemBank.from_json(json.dumps(document))
    return [item for c in bank.scales.values() for item in c.item_ids]


def test_sympson_hetter_parameters_over_http(service, bank_document):
    client = service.client
    bank_id = client.post("/v1/banks?name=cat", json=bank_document, headers=service.headers()).json()["id"]
    items = _items(bank_document)
    # the most informative items get a low K: a session must set some of them aside
    parameters = {item: (0.05 if k % 2 else 1.0) for k, item in enumerate(items)}
    options = {"selection": "mfi", "stop": {"max_items": 6}, "seed": 9,
               "exposure": {"sympson_hetter": parameters}}
    started = client.post(f"/v1/banks/{bank_id}/cat", json=options, headers=service.headers())
    assert started.status_code == 201, started.text
    state = started.json()
    local = cat.Session(ItemBank.from_json(json.dumps(bank_document)), selection="mfi", stop={"max_items": 6},
                        seed=9, exposure={"sympson_hetter": parameters})
    bank = ItemBank.from_json(json.dumps(bank_document))
    categories = {item: list(c.categories[item]) for c in bank.scales.values() for item in c.item_ids}
    given_items = []
    while not state["done"]:
        assert state["item"] == local.next_item()
        response = categories[state["item"]][-1]
        local.answer(state["item"], response)
        given_items.append(state["item"])
        state = client.post(f"/v1/cat/{state['session']}/answers", json={"item": state["item"], "response": response},
                            headers=service.headers()).json()
    assert state["scores"]["theta"] == pytest.approx(local.theta, abs=1e-12)
    assert local._engine.set_aside.any()  # the parameters took effect
    stored = client.get(f"/v1/cat/{state['session']}", headers=service.headers()).json()
    assert [a["item"] for a in stored["answers"]] == given_items

    def start(exposure):
        return client.post(f"/v1/banks/{bank_id}/cat", json={"exposure": exposure}, headers=service.headers())

    unknown = start({"sympson_hetter": {**parameters, "zzz_9": 0.5}})
    assert unknown.status_code == 422 and "zzz_9" in unknown.text
    missing = start({"sympson_hetter": {items[0]: 0.5}})
    assert missing.status_code == 422 and "lack" in missing.text
    for bad in ({"sympson_hetter": {items[0]: 1.5}}, {"sympson_hetter": {items[0]: -0.1}},
                {"sympson_hetter": {}}, {"sympson_hetter": {items[0]: "x"}}, {"sympson_hetter": [0.5]},
                {"sympson_hetter": {f"i{k}": 0.5 for k in range(10_001)}}, {"randomesque": 0},
                {"randomesque": 2, "sympson_hetter": parameters}):
        response = start(bad)
        assert response.status_code == 422, (str(bad)[:80], response.text)
        assert set(response.json()) == {"detail"}


@pytest.fixture(scope="module")
def cat_api(tmp_path_factory, bank_document, make_keys):
    from fastapi.testclient import TestClient

    from psychometrics.service import Settings, create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('cat-input') / 'store.db'}"
    keys = make_keys(url, "acme")
    with TestClient(create_app(Settings(database_url=url, rate_limit=0))) as client:
        headers = {"Authorization": f"Bearer {keys['acme']}"}
        bank = client.post("/v1/banks?name=team", json=bank_document, headers=headers).json()["id"]
        yield client, headers, bank


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16)
stop_rules = st.dictionaries(st.sampled_from(["se", "min_items", "max_items", "classification", "alpha", "beta",
                                              "indifference", "other"]),
                             st.integers(-5, 50) | st.floats() | st.sampled_from(["ci", "sprt", "x"]) | st.none(),
                             max_size=4)
exposures = (st.sampled_from(["randomesque", "sympson", ""]) | st.fixed_dictionaries({"randomesque": json_values})
             | st.fixed_dictionaries({"sympson_hetter": st.dictionaries(st.sampled_from(ITEMS) | st.text(max_size=6),
                                                                        st.floats() | st.integers() | st.text(max_size=3),
                                                                        max_size=6)}))
start_bodies = st.fixed_dictionaries({}, optional={
    "selection": st.sampled_from(["mfi", "kl", "mpwi", "mepv", "progressive", "random", "shadow", "MFI"]) | json_values,
    "stop": stop_rules | json_values,
    "content": st.dictionaries(st.sampled_from(["teamwork", "leadership", "knowledge", "x"]),
                               st.floats() | st.integers(-1, 2), max_size=3) | json_values,
    "exposure": exposures | json_values,
    "scoring": st.sampled_from(["eap", "map", "wle", "ml", "x"]),
    "start_theta": st.floats() | st.integers() | json_values,
    "cut": st.floats() | st.none(),
    "enemies": st.lists(st.lists(st.sampled_from(ITEMS) | st.text(max_size=4), max_size=3), max_size=3) | json_values,
    "seed": st.integers(min_value=-5, max_value=2**70) | json_values,
    "respondent": st.text(max_size=20) | json_values,
})
answer_bodies = st.fixed_dictionaries(
    {"item": st.sampled_from(ITEMS) | st.text(max_size=12) | json_values,
     "response": st.integers(-3, 6) | st.floats() | st.none() | st.text(max_size=3) | json_values},
    optional={"extra": json_values})


def _post(client, path, body, headers):
    # encoded here: NaN and Infinity (which Python's json reads) must reach the server
    return client.post(path, content=json.dumps(body, allow_nan=True).encode(),
                       headers={**headers, "Content-Type": "application/json"})


def _check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    json.loads(response.text)


@EXAMPLES
@given(body=start_bodies | json_values)
def test_start_bodies_never_500(cat_api, body):
    client, headers, bank = cat_api
    _check(_post(client, f"/v1/banks/{bank}/cat", body, headers))


@EXAMPLES
@given(bodies=st.lists(answer_bodies | json_values, min_size=1, max_size=4), pending_first=st.booleans())
def test_answer_bodies_never_500(cat_api, bodies, pending_first):
    client, headers, bank = cat_api
    started = _post(client, f"/v1/banks/{bank}/cat", {"stop": {"max_items": 3}, "seed": 1}, headers)
    assert started.status_code == 201, started.text
    state = started.json()
    if pending_first:  # also bad answers in the middle of a test
        state = client.post(f"/v1/cat/{state['session']}/answers", json={"item": state["item"], "response": None},
                            headers=headers).json()
    for body in bodies:
        _check(_post(client, f"/v1/cat/{state['session']}/answers", body, headers))
    assert client.get(f"/v1/cat/{state['session']}", headers=headers).status_code == 200


@EXAMPLES
@given(raw=st.binary(max_size=200), path=st.sampled_from(["cat", "answers"]))
def test_raw_cat_bodies_never_500(cat_api, raw, path):
    client, headers, bank = cat_api
    if path == "cat":
        url = f"/v1/banks/{bank}/cat"
    else:
        session = _post(client, f"/v1/banks/{bank}/cat", {"seed": 2}, headers).json()["session"]
        url = f"/v1/cat/{session}/answers"
    _check(client.post(url, content=raw, headers={**headers, "Content-Type": "application/json"}))
