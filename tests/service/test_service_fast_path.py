"""The service's cached per-bank plan (score_codes) gives what irt.score gives on each scale,
for random banks and answers, missing answers, empty scales and extreme patterns."""

from __future__ import annotations

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
