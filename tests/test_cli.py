"""The command line: exit codes, tables, JSON and one-line errors."""

import json

import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics.analysis import analyze_instrument  # noqa: E402
from psychometrics.cli import app  # noqa: E402
from psychometrics.instrument import Instrument, bundled_sample  # noqa: E402

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("analyze", "demo", "instrument"):
        assert command in result.output


def test_demo_prints_tables():
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Reliability per scale" in result.output
    assert "teamwork" in result.output


def test_demo_json_equals_api():
    result = runner.invoke(app, ["demo", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    expected = analyze_instrument(Instrument.bundled("soft-skills-7"), bundled_sample("soft-skills-7"))
    alphas = {row["scale"]: row["alpha"] for row in payload["scales"]}
    for scale, value in expected.scales["alpha"].items():
        assert alphas[scale] == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize("name", ["soft-skills-7", "feedback-360", "sjt-collaboration", "sql-fundamentals"])
def test_analyze_each_bundled_instrument(name, tmp_path):
    result = runner.invoke(app, ["analyze", str(bundled_sample(name)), "--instrument", name,
                                 "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    scales = pd.read_csv(tmp_path / "scales.csv", index_col=0)
    assert (scales["alpha"] > 0.5).all()
    assert (tmp_path / "items.csv").exists() and (tmp_path / "analysis.json").exists()


def test_bad_rows_give_one_line_error_naming_row_and_item(tmp_path):
    frame = pd.read_csv(bundled_sample("soft-skills-7"), comment="#")
    frame.loc[3, "com_01"] = 7
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["analyze", str(path), "-i", "soft-skills-7"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "row 3" in result.output and "com_01" in result.output and "value 7" in result.output


def test_instrument_validate_and_schema(tmp_path):
    instrument = Instrument.bundled("sql-fundamentals")
    path = tmp_path / "sql.yaml"
    instrument.save(path)
    result = runner.invoke(app, ["instrument", "validate", str(path)])
    assert result.exit_code == 0 and "valid" in result.output
    schema = runner.invoke(app, ["instrument", "schema"])
    assert json.loads(schema.stdout)["title"] == "Instrument"


def test_invalid_instrument_is_an_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nversion: '1'\ntitle: t\nscales: []\nitems: []\n")
    result = runner.invoke(app, ["instrument", "validate", str(path)])
    assert result.exit_code == 2
    assert "error" in result.output
