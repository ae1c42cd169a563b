"""The fast reading of score bodies accepts only what the request model accepts, and reads the same."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from psychometrics.service.bodies import read_score_body
from psychometrics.service.schemas import ScoreRequest

codes = st.one_of(st.none(), st.booleans(), st.integers(-2_000_000, 2_000_000), st.floats(allow_nan=False),
                  st.text(max_size=3), st.integers(-2**70, 2**70))
names = st.one_of(st.text(min_size=0, max_size=4), st.sampled_from(["i1", "i2", "i3"]), st.just("x" * 201))
entries = st.one_of(
    st.fixed_dictionaries({"respondent": names, "answers": st.dictionaries(names, codes, max_size=4)}),
    st.fixed_dictionaries({"respondent": names, "answers": st.dictionaries(names, codes, max_size=4),
                           "extra": st.integers()}),
    st.fixed_dictionaries({"respondent": st.integers(), "answers": st.just({})}),
    st.just([]),
)
plain_entries = st.fixed_dictionaries({
    "respondent": st.text(min_size=1, max_size=5),
    "answers": st.dictionaries(st.sampled_from(["i1", "i2", "i3", "é4"]),
                               st.one_of(st.none(), st.integers(-1_000_001, 1_000_001)), max_size=4)})
uniform_bodies = st.integers(1, 4).flatmap(lambda n: st.fixed_dictionaries({
    "method": st.sampled_from(["eap", "WLE"]),
    "responses": st.lists(st.builds(lambda r, c, swap: {"respondent": r, "answers": dict(
                                        [("i2", c[1]), ("i1", c[0])] if swap else [("i1", c[0]), ("i2", c[1])])},
                                    st.text(min_size=1, max_size=4),
                                    st.tuples(st.one_of(st.none(), st.integers(0, 4), st.integers(-2**63, 2**64 - 1)),
                                              st.one_of(st.none(), st.integers(0, 4))),
                                    st.booleans()),
                          min_size=n, max_size=n)}))
bodies = st.one_of(
    st.fixed_dictionaries({"responses": st.lists(plain_entries, min_size=1, max_size=4)}),
    uniform_bodies,
    st.fixed_dictionaries({"responses": st.lists(entries, max_size=4)},
                          optional={"method": st.sampled_from(["eap", "EAP", "wle", "Ml", "bayes", 3])}),
    st.fixed_dictionaries({"responses": st.lists(entries, max_size=3), "other": st.none()}),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_fast_reading_agrees_with_the_request_model(body):
    raw = json.dumps(body).encode()   # the standard encoder also writes integers beyond 64 bits
    fast = read_score_body(raw)
    try:
        model = ScoreRequest.model_validate_json(raw)
    except ValidationError:
        assert fast is None, body
        return
    if fast is None:
        return  # declined: the model's path answers, as for option labels
    assert fast.method == model.method
    assert fast.respondents == [r.respondent for r in model.responses]
    assert fast.answers == [r.answers for r in model.responses]
    if fast.uniform is not None:
        items, matrix = fast.uniform
        for row, entry in zip(matrix, model.responses):
            assert set(entry.answers) == set(items) and len(entry.answers) == len(items)
            for value, item in zip(row, items):
                code = entry.answers[item]
                assert (math.isnan(value) and code is None) or value == code
