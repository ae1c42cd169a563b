"""The command line: exit codes, tables, JSON and one-line errors; the demo.

The demo runs the whole validation of soft-skills-7 (about 15-20 s on 2 cores), so it runs
once per module (``demo_run``) and the tests read its outputs.
"""

import json

import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

import psychometrics.validation as validation_module  # noqa: E402
from psychometrics.analysis import analyze_instrument  # noqa: E402
from psychometrics.cli import app  # noqa: E402
from psychometrics.instrument import Instrument, bundled_sample  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """``psychometrics demo --json`` in an empty working directory, and the Validation it computed."""
    pytest.importorskip("jinja2")
    pytest.importorskip("matplotlib")
    cwd = tmp_path_factory.mktemp("demo")
    captured = {}
    real_validate = validation_module.validate

    def spy(*args, **kwargs):
        captured["validation"] = real_validate(*args, **kwargs)
        return captured["validation"]

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setattr(validation_module, "validate", spy)
        result = runner.invoke(app, ["demo", "--json"])
    return result, captured.get("validation"), cwd


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("analyze", "demo", "instrument", "validate", "calibrate", "score"):
        assert command in result.output


def test_demo_writes_report_in_working_directory(demo_run):
    result, validation, cwd = demo_run
    assert result.exit_code == 0, result.output
    report = cwd / "report.html"
    assert report.is_file()
    payload = json.loads(result.stdout)
    assert payload["report"] == str(report.resolve())
    page = report.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "<svg" in page and "teamwork" in page
    # no temporary files left beside it
    assert sorted(p.name for p in cwd.iterdir()) == ["report.html"]


def test_demo_json_equals_api(demo_run):
    result, validation, _ = demo_run
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    expected = analyze_instrument(Instrument.bundled("soft-skills-7"), bundled_sample("soft-skills-7"))
    alphas = {row["scale"]: row["alpha"] for row in payload["scales"]}
    for scale, value in expected.scales["alpha"].items():
        assert alphas[scale] == pytest.approx(value, abs=1e-12)
    # the JSON is the Validation's own dictionary
    assert payload["verdicts"] == validation.verdicts
    assert payload["exit_code"] == validation.exit_code
    assert len(payload["findings"]) == len(validation.findings)


def test_demo_prints_tables(demo_run, monkeypatch, tmp_path):
    # the printing path of the demo, fed with the Validation computed once by demo_run
    _, validation, _ = demo_run
    from psychometrics import report

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validation_module, "validate", lambda *a, **k: validation)
    monkeypatch.setattr(report, "render", lambda v, path=None: "<!DOCTYPE html><html></html>")
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Reliability per scale" in result.output
    assert "teamwork" in result.output
    assert "Verdict per scale" in result.output
    assert f"Report written to {(tmp_path / 'report.html').resolve()}" in result.output.replace("\n", "")
    assert (tmp_path / "report.html").read_text() == "<!DOCTYPE html><html></html>"


def test_demo_without_report_extra_names_the_extra(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_jinja(name, *args, **kwargs):
        if name == "jinja2":
            raise ModuleNotFoundError("No module named 'jinja2'", name="jinja2")
        return real_import(name, *args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "__import__", no_jinja)
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 2
    assert "pip install 'psychometrics[report]'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "report.html").exists()


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
    written = runner.invoke(app, ["instrument", "schema", "-o", str(tmp_path / "schema.json")])
    assert written.exit_code == 0
    assert json.loads((tmp_path / "schema.json").read_text())["title"] == "Instrument"


def test_instrument_list_names_bundled():
    result = runner.invoke(app, ["instrument", "list"])
    assert result.exit_code == 0
    for name in ("soft-skills-7", "feedback-360", "sjt-collaboration", "sql-fundamentals"):
        assert name in result.output


def test_invalid_instrument_is_an_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nversion: '1'\ntitle: t\nscales: []\nitems: []\n")
    result = runner.invoke(app, ["instrument", "validate", str(path)])
    assert result.exit_code == 2
    assert "error" in result.output


def test_unexpected_error_is_one_line_and_debug_shows_it(monkeypatch, tmp_path):
    import psychometrics.analysis as analysis_module

    def broken(*args, **kwargs):
        raise IndexError("index 3 is out of bounds")

    monkeypatch.setattr(analysis_module, "analyze_instrument", broken)
    sample = str(bundled_sample("sjt-collaboration"))
    result = runner.invoke(app, ["analyze", sample, "-i", "sjt-collaboration"])
    assert result.exit_code == 2
    assert "unexpected IndexError: index 3 is out of bounds" in result.output
    assert "--debug" in result.output and "Traceback" not in result.output
    debug = runner.invoke(app, ["--debug", "analyze", sample, "-i", "sjt-collaboration"])
    assert isinstance(debug.exception, IndexError)


def test_missing_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.csv"), "-i", "soft-skills-7"])
    assert result.exit_code == 2


def test_unknown_bundled_instrument_lists_the_bundled(tmp_path):
    sample = str(bundled_sample("sjt-collaboration"))
    result = runner.invoke(app, ["validate", sample, "-i", "no-such-instrument"])
    assert result.exit_code == 2
    assert "no bundled instrument 'no-such-instrument'" in result.output
    assert "soft-skills-7" in result.output


def test_main_names_the_cli_extra_when_typer_is_missing(monkeypatch, capsys):
    import builtins
    import sys

    from psychometrics import __main__ as entry

    real_import = builtins.__import__

    def no_typer(name, *args, **kwargs):
        if name == "typer" or name.startswith("psychometrics.cli"):
            raise ModuleNotFoundError("No module named 'typer'", name="typer")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_typer)
    monkeypatch.delitem(sys.modules, "psychometrics.cli", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        entry.main()
    assert exit_info.value.code == 2
    assert "pip install 'psychometrics[cli]'" in capsys.readouterr().err
