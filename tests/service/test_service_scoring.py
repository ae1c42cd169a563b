"""The service scores exactly as ``psychometrics score`` does (1e-9), for every method, with and
without an instrument, because both call the library's ``irt.score``."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics.bank import ItemBank  # noqa: E402
from psychometrics.cli import app  # noqa: E402
from psychometrics.instrument import Instrument, bundled_sample  # noqa: E402
from psychometrics.service.scoring import score_answers  # noqa: E402
from psychometrics.simulate import simulate  # noqa: E402

runner = CliRunner()
FIELDS = {"theta": "theta", "se": "se", "T": "T", "percentile": "percentile", "n_answered": "n_answered"}


def cli_scores(tmp_path, frame: pd.DataFrame, document: dict, method: str, *extra: str) -> list[dict]:
    bank_path = tmp_path / "bank.json"
    bank_path.write_text(json.dumps(document), encoding="utf-8")
    data = tmp_path / "responses.csv"
    frame.to_csv(data, index=False)
    result = runner.invoke(app, ["score", str(data), "--bank", str(bank_path), "--method", method, "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def answers_of(frame: pd.DataFrame, items: list[str]) -> list[tuple[str, dict]]:
    """Respondent -> {item: code} with blanks left out, as a platform would send them."""
    out = []
    for _, row in frame.iterrows():
        answers = {item: int(row[item]) for item in items if item in row and not pd.isna(row[item])}
        out.append((str(row["respondent_id"]), answers))
    return out


def assert_same(service_rows: list[tuple[str, dict]], cli_rows: list[dict], scales: list[str]) -> None:
    assert [respondent for respondent, _ in service_rows] == [str(row["respondent_id"]) for row in cli_rows]
    for (respondent, scores), row in zip(service_rows, cli_rows):
        for scale in scales:
            ours = scores[scale]
            for field, column in FIELDS.items():
                expected = row[f"{scale}_{column}"]
                actual = ours[field]
                if expected is None or isinstance(expected, str):  # null (no estimate) or "inf"/"-inf", as the CLI
                    assert actual == expected, (respondent, scale, field, actual, expected)
                else:
                    assert actual is not None and math.isclose(actual, expected, rel_tol=0, abs_tol=1e-9), \
                        (respondent, scale, field, actual, expected)


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
def test_plain_bank_equals_cli_score(tmp_path, bank_document, method):
    bank = ItemBank.from_json(json.dumps(bank_document))
    columns = []
    for seed, calibration in enumerate(bank.scales.values()):
        columns.append(simulate(calibration, 40, seed=seed, missing=0.15))
    frame = pd.concat(columns, axis=1)
    frame.iloc[0, :4] = 5.0          # all highest on teamwork: ML goes to +inf
    frame.iloc[1, 4:8] = np.nan      # no answer on leadership
    frame.insert(0, "respondent_id", [f"p{i:03d}" for i in range(len(frame))])
    items = [c for c in frame.columns if c != "respondent_id"]
    expected = cli_scores(tmp_path, frame, bank_document, method)
    scores = score_answers(bank, answers_of(frame, items), method=method)
    assert_same([(r, p) for r, p in
                 zip(frame["respondent_id"], scores)], expected, list(bank.scales))
    assert scores[0]["teamwork"]["flags"] == ["all_highest"]
    assert scores[1]["leadership"]["flags"] == ["no_responses"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_instrument_bank_over_http_equals_cli_score(tmp_path, service, soft_skills_document):
    """Reverse keying and the -9 missing code of the bundled instrument apply as in the CLI."""
    sample = pd.read_csv(bundled_sample("soft-skills-7"), comment="#", dtype={"respondent_id": str}).head(30)
    items = Instrument.bundled("soft-skills-7").item_ids
    expected = cli_scores(tmp_path, sample, soft_skills_document, "eap", "-i", "soft-skills-7")

    created = service.client.post("/v1/banks", json=soft_skills_document, headers=service.headers())
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "soft-skills-7"
    body = {"method": "EAP", "responses": [{"respondent": r, "answers": a} for r, a in answers_of(sample, items)]}
    response = service.client.post(f"/v1/banks/{created.json()['id']}/score", json=body, headers=service.headers())
    assert response.status_code == 200, response.text
    got = response.json()["scores"]
    assert_same([(row["respondent"], row["scales"]) for row in got], expected,
                list(soft_skills_document["scales"]))
