"""``psychometrics cat simulate``: the command's numbers equal cat.simulate's; the report is self-contained."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics import cat  # noqa: E402
from psychometrics.bank import ItemBank  # noqa: E402
from psychometrics.cli import app  # noqa: E402
from psychometrics.irt import Calibration  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cat"))
from cat_pools import two_pl_pool  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def bank_file(tmp_path_factory):
    first = two_pl_pool(30, seed=1)
    second = two_pl_pool(30, seed=2)
    second = Calibration.from_item_params(second.item_params.set_axis([f"r{j:02d}" for j in range(30)]), "2pl")
    bank = ItemBank(scales={"teamwork": first, "leadership": second})
    path = tmp_path_factory.mktemp("bank") / "bank.json"
    bank.save(path)
    return path, bank


def test_simulate_json_equals_the_api(bank_file):
    path, bank = bank_file
    result = runner.invoke(app, ["cat", "simulate", "--bank", str(path), "--n", "200", "--stop-se", "0.35",
                                 "--max-items", "20", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    rng = np.random.default_rng(3)
    thetas = rng.normal(0.0, 1.0, 200)
    expected = cat.simulate(bank, thetas, stop={"se": 0.35, "min_items": 1, "max_items": 20}, seed=rng)
    assert payload["statistics"]["rmse"] == pytest.approx(expected.rmse, abs=1e-12)
    assert payload["statistics"]["mean_length"] == pytest.approx(expected.mean_length)
    assert payload["statistics"]["mean_se"] < 0.35
    assert len(payload["conditional"]) == 6 and len(payload["exposure"]) == 60


def test_simulate_writes_a_self_contained_report(bank_file, tmp_path):
    path, _ = bank_file
    report = tmp_path / "cat.html"
    output = tmp_path / "examinees.csv"
    result = runner.invoke(app, ["cat", "simulate", "--bank", str(path), "--n", "150", "--stop-se", "0.3",
                                 "--content", "teamwork=0.5,leadership=0.5", "--randomesque", "3",
                                 "--report", str(report), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "rmse" in result.stdout and "By true theta" in result.stdout
    page = report.read_text()
    assert page.count("<svg") == 3
    for heading in ("Test length distribution", "Item exposure", "Conditional RMSE and bias", "Content areas"):
        assert heading in page
    # nothing loaded from the network: the only URLs are XML namespaces
    assert not [u for u in re.findall(r'(?:src|href)="(https?://[^"]+)"', page)]
    frame = pd.read_csv(output, index_col=0)
    assert len(frame) == 150 and {"theta", "se", "length", "items"} <= set(frame.columns)


def test_simulate_errors_are_one_line(bank_file):
    path, _ = bank_file
    result = runner.invoke(app, ["cat", "simulate", "--bank", str(path), "--content", "teamwork"])
    assert result.exit_code == 2
    assert "area=proportion" in result.output
    result = runner.invoke(app, ["cat", "simulate", "--bank", str(path), "--scale", "nope"])
    assert result.exit_code == 2 and "not a scale" in result.output
