"""Resuming a stored session: ``Session.from_json`` (answers recorded in one pass, the design
cached per pool and options) leaves the engine exactly as the live session after every step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cat_pools import graded_pool, two_pl_pool

from psychometrics import cat
from psychometrics.cat import session as session_module

DESIGNS = {
    "mfi, content, enemies": dict(selection="mfi", content={"communication": 0.5, "teamwork": 0.25,
                                                              "leadership": 0.25},
                                  enemies=[["i001", "i002", "i003"]], stop={"max_items": 12}),
    "sprt cut": dict(selection="mfi", cut=0.3, stop={"classification": "sprt", "min_items": 4, "max_items": 15}),
    "ci cut, randomesque": dict(selection="mpwi", cut=-0.2, exposure={"randomesque": 3},
                                stop={"classification": "ci", "max_items": 15}),
    "se stop, random": dict(selection="random", stop={"se": 0.35, "max_items": 20}),
    "sympson-hetter": dict(selection="mfi", stop={"max_items": 10}),
}


def _pool(name):
    pool = two_pl_pool(40, seed=21)
    ids = [f"i{j:03d}" for j in range(pool.n_items)]
    pool = type(pool).from_item_params(pool.item_params.set_axis(ids), "2pl")
    return pool


@pytest.mark.parametrize("name", list(DESIGNS))
def test_resume_equals_the_live_session_after_every_step(name):
    pool = _pool(name)
    options = dict(DESIGNS[name])
    if name == "sympson-hetter":
        options["exposure"] = pd.Series(np.linspace(0.3, 1.0, pool.n_items), index=pool.item_ids)
    areas = pd.Series(np.array(["communication", "teamwork", "leadership", "planning"])[np.arange(pool.n_items) % 4],
                      index=pool.item_ids)
    live = cat.Session(pool, attributes=areas if "content" in options else None, seed=3, **options)
    rng = np.random.default_rng(8)
    steps = 0
    while (item := live.next_item()) is not None and steps < 40:
        response = None if rng.random() < 0.1 else int(rng.random() < 0.6)  # some omitted answers
        live.answer(item, response)
        steps += 1
        resumed = cat.Session.from_json(live.to_json(include_bank=False), bank=pool)
        a, b = live._engine, resumed._engine
        np.testing.assert_array_equal(b.log_post, a.log_post)           # the same sums, bit for bit
        assert (b.theta[0], b.se[0]) == (a.theta[0], a.se[0])
        n = int(a.length[0])
        np.testing.assert_allclose(b.theta_history[0, :n], a.theta_history[0, :n], rtol=0, atol=1e-13)
        np.testing.assert_allclose(b.se_history[0, :n], a.se_history[0, :n], rtol=0, atol=1e-13)
        for field in ("administered", "blocked", "set_aside", "area_count", "items", "codes", "length", "done"):
            np.testing.assert_array_equal(getattr(b, field), getattr(a, field), err_msg=field)
        if a.classification is not None:
            np.testing.assert_array_equal(b.sprt_loglik, a.sprt_loglik)
            assert resumed.classification == live.classification
        assert resumed.stop_reason == live.stop_reason and resumed.done == live.done
        assert resumed.next_item() == live.next_item()
    assert live.done and steps >= 3


def test_resumed_sessions_share_the_design_per_pool_and_options():
    pool = graded_pool()
    first = cat.Session(pool, stop={"max_items": 5}, seed=1)
    first.answer(first.next_item(), pool.categories[first.next_item()][0])
    text = first.to_json(include_bank=False)
    one, two = cat.Session.from_json(text, bank=pool), cat.Session.from_json(text, bank=pool)
    assert one._design is two._design
    other = cat.Session(pool, stop={"max_items": 6}, seed=1).to_json(include_bank=False)
    assert cat.Session.from_json(other, bank=pool)._design is not one._design
    # another pool object with the same content: its own entry, same fingerprint
    again = cat.Session.from_json(text, bank=graded_pool())
    assert again._design is not one._design and again._design.fingerprint == one._design.fingerprint
    assert len(session_module._DESIGNS) <= session_module._DESIGNS_SIZE


def test_a_changed_document_is_refused():
    pool = two_pl_pool()
    session = cat.Session(pool, stop={"max_items": 5}, seed=1)
    for _ in range(2):
        session.answer(session.next_item(), 1)
    import json

    doc = json.loads(session.to_json(include_bank=False))
    doc["answers"].append(doc["answers"][0])
    with pytest.raises(ValueError, match="appears twice"):
        cat.Session.from_json(json.dumps(doc), bank=pool)
    doc["answers"] = doc["answers"][:1] * 1 + [[f"x{j}", 1] for j in range(1)]
    with pytest.raises(ValueError, match="not in the pool"):
        cat.Session.from_json(json.dumps(doc), bank=pool)
