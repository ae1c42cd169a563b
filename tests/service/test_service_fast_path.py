"""The service's cached per-bank plan (score_codes) gives what irt.score gives on each scale,
for random banks and answers, missing answers, empty scales and extreme patterns."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from psychometrics import irt
from psychometrics.bank import ItemBank
from psychometrics.irt import Calibration
from psychometrics.service import scoring as service_scoring
from psychometrics.service.scoring import bank_plan, score_answers



def graded_scale(rng: np.random.Generator, items: list[str], codes=(1, 2, 3, 4, 5)) -> Calibration:
    b = np.sort(rng.normal(0.0, 1.0, (len(items), len(codes) - 1)), axis=1)
    params = pd.DataFrame({"a": rng.uniform(0.8, 2.2, len(items)), **{f"b{j + 1}": b[:, j] for j in range(len(codes) - 1)}},
                          index=items)
    return Calibration.from_item_params(params, "graded", categories=list(codes))


def random_bank(seed: int) -> ItemBank:
    rng = np.random.default_rng(seed)
    scales = {f"s{k}": graded_scale(rng, [f"s{k}_{j}" for j in range(int(rng.integers(2, 7)))]) for k in range(3)}
    params = pd.DataFrame({"a": rng.uniform(0.8, 2.0, 4), "b": rng.normal(0.0, 1.0, 4)},
                          index=[f"d_{j}" for j in range(4)])
    scales["dich"] = Calibration.from_item_params(params, "2pl", categories=[0, 1])
    return ItemBank(scales=scales)


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
@pytest.mark.parametrize("seed", [3, 4])
def test_fast_path_equals_irt_score(method, seed, monkeypatch):
    bank = random_bank(seed)
    rng = np.random.default_rng(seed + 100)
    respondents = []
    for i in range(30):
        answers = {}
        for scale, calibration in bank.scales.items():
            for item in calibration.item_ids:
                if rng.random() < 0.2:
                    continue  # missing answer
                codes = list(calibration.categories[item])
                if i == 0:
                    code = codes[0]           # all lowest everywhere
                elif i == 1:
                    code = codes[-1]          # all highest everywhere
                else:
                    code = codes[int(rng.integers(len(codes)))]
                answers[item] = int(code)
        if i == 2:
            answers = {k: v for k, v in answers.items() if not k.startswith("s0_")}  # empty scale
        if i == 3:
            answers = {}                                                           # nothing at all
        respondents.append((f"r{i}", answers))
    assert bank_plan(bank) is not None
    calls = []
    real = service_scoring._score_matrix
    monkeypatch.setattr(service_scoring, "_score_matrix",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    got = score_answers(bank, respondents, method=method)
    assert calls and all(isinstance(person, dict) for person in got)
    # a few respondents: every scale in one call on the bank's pooled plan, the same numbers (EAP
    # to rounding; the iterative estimators to their tolerance, 1e-8, as any other batch of rows)
    assert bank_plan(bank).pooled is not None
    tolerance = 1e-12 if method == "eap" else 1e-8
    few = score_answers(bank, respondents[:5], method=method)
    for mine, theirs in zip(few, got[:5]):
        for scale in bank.scales:
            for field in ("theta", "se", "T", "percentile"):
                if isinstance(theirs[scale][field], float):
                    scale_of = {"theta": 1.0, "se": 1.0, "T": 10.0, "percentile": 100.0}[field]
                    assert mine[scale][field] == pytest.approx(theirs[scale][field], abs=tolerance * scale_of)
                else:
                    assert mine[scale][field] == theirs[scale][field]
            assert (mine[scale]["n_answered"], mine[scale]["flags"]) == (theirs[scale]["n_answered"],
                                                                       theirs[scale]["flags"])
    items = list(dict.fromkeys(i for c in bank.scales.values() for i in c.item_ids))
    frame = pd.DataFrame([{item: answers.get(item, np.nan) for item in items} for _, answers in respondents],
                         columns=items, dtype=float)
    for scale, calibration in bank.scales.items():
        expected = irt.score(calibration, frame[list(calibration.item_ids)], method=method)
        for i, person in enumerate(got):
            ours = person[scale]
            for field in ("theta", "se"):
                value = expected[field].iloc[i]
                if math.isnan(value):
                    assert ours[field] is None
                elif math.isinf(value):
                    assert ours[field] == ("inf" if value > 0 else "-inf")
                else:
                    assert abs(ours[field] - value) <= 1e-9, (scale, i, field)
            assert ours["n_answered"] == expected["n_answered"].iloc[i]
            flag = expected["flag"].iloc[i]
            assert ours["flags"] == ([flag] if flag else [])
    assert got[3]["s0"]["flags"] == ["no_responses"] and got[2]["s0"]["flags"] == ["no_responses"]
    assert got[1]["dich"]["flags"] == ["all_highest"] and got[0]["dich"]["flags"] == ["all_lowest"]


def test_json_rows_are_the_bytes_of_the_rows():
    """The column-by-column encoder writes exactly what orjson writes for the per-respondent
    dicts: NaN -> null, +-inf -> "inf"/"-inf", flags, a '%' in a scale name, any respondent id."""
    import orjson

    from psychometrics.service.scoring import ScoreTable

    n = 5
    table = ScoreTable(["r1", "é \"q\" ,x", "%b", "r4", "r5"], {
        "s%b,1": {"theta": np.array([0.1, np.nan, np.inf, -np.inf, 1e-300]), "se": np.array([0.3, np.nan, np.inf, 2.0, 1.0]),
                  "T": np.array([51.0, np.nan, np.inf, -np.inf, 50.0]), "percentile": np.array([53.9, np.nan, 100.0, 0.0, 50.0]),
                  "n_answered": np.array([3, 0, 4, 4, 1]),
                  "flag": np.array(["", "no_responses", "infinite_estimate", "infinite_estimate", ""], dtype=object)},
        "two": {field: np.linspace(-1.0, 1.0, n) for field in ("theta", "se", "T", "percentile")}
        | {"n_answered": np.arange(n), "flag": np.array([""] * n, dtype=object)}})
    expected = orjson.dumps([{"respondent": r, "scales": p} for r, p in zip(table.respondents, table.rows())])
    assert table.json_rows() == expected
    assert json.loads(expected)[1]["scales"]["s%b,1"]["theta"] is None
    assert json.loads(expected)[2]["scales"]["s%b,1"]["theta"] == "inf"
    assert ScoreTable([], {}).json_rows() == b"[]"
    # over 20 respondents the columns are encoded from the arrays: all-finite columns (from
    # numpy) and columns with NaN or inf (through Python floats) alike
    rng = np.random.default_rng(3)
    big = ScoreTable([f"{r}-{k}" for k in range(6) for r in table.respondents],
                     {scale: {field: np.tile(values, 6) for field, values in columns.items()}
                      for scale, columns in table.scales.items()})
    big.scales["two"]["theta"] = rng.standard_normal(30) * 10.0 ** rng.integers(-300, 300, 30)
    big.scales["two"]["se"] = np.array([0.0, -0.0, 5e-324, 1e16, 1e-7, 2.0 ** 53, 0.1 + 0.2] + [1.5] * 23)
    expected = orjson.dumps([{"respondent": r, "scales": p} for r, p in zip(big.respondents, big.rows())])
    assert big.json_rows() == expected
    assert big.json_rows(b'{"scores":', b"}") == b'{"scores":' + expected + b"}"
    assert table.json_rows(b"<", b">") == b"<" + table.json_rows() + b">"
    assert json.loads(expected)[26]["scales"]["s%b,1"]["T"] is None


def test_instrument_bank_takes_the_lookup_table():
    """A bank keyed by an instrument (reverse keying, missing code -9) is scored through the
    table built from the instrument's own prepare, equal to the library's path."""
    from psychometrics.instrument import Instrument

    instrument = Instrument.bundled("soft-skills-7")
    rng = np.random.default_rng(5)
    scales = {scale: graded_scale(rng, items) for scale, items in instrument.scale_items().items()}
    bank = ItemBank(scales=scales, instrument_id=instrument.id, instrument_version=str(instrument.version))
    plan = bank_plan(bank, instrument)
    assert plan is not None and plan.table is not None
    items = instrument.item_ids
    respondents = []
    for i in range(25):
        answers = {item: int(rng.integers(1, 6)) for item in items if rng.random() < 0.85}
        if i % 5 == 0 and answers:
            answers[next(iter(answers))] = -9  # the instrument's missing code
        if i % 7 == 0 and answers:
            answers[next(iter(answers))] = None
        respondents.append((f"p{i}", answers))
    fast = service_scoring.score_table(bank, respondents, instrument=instrument)
    names = [r for r, _ in respondents]
    slow = service_scoring._score_library(bank, respondents, names, "eap", instrument, False)
    for scale in bank.scales:
        np.testing.assert_allclose(fast.scales[scale]["theta"], slow[scale]["theta"].to_numpy(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(fast.scales[scale]["se"], slow[scale]["se"].to_numpy(), rtol=0, atol=1e-9)
        np.testing.assert_array_equal(fast.scales[scale]["n_answered"], slow[scale]["n_answered"].to_numpy())
    # a raw code outside the instrument's options: the library's error, naming the item
    with pytest.raises(service_scoring.AnswerError) as error:
        service_scoring.score_table(bank, [("x", {items[0]: 7})], instrument=instrument)
    assert items[0] in str(error.value.problems)
