"""``psychometrics report360``: one target, every target, the team page, and refusals."""

import json

import pandas as pd
import pytest

pytest.importorskip("typer")
pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")
from typer.testing import CliRunner  # noqa: E402

from psychometrics.cli import app  # noqa: E402
from psychometrics.instrument import bundled_sample  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """Three targets of the bundled sample: gaps are per target, so they are the sample's."""
    sample = pd.read_csv(bundled_sample("feedback-360"), comment="#")
    path = tmp_path_factory.mktemp("ratings") / "three.csv"
    sample[sample.target_id.isin(["t0001", "t0002", "t0003"])].to_csv(path, index=False)
    return str(path)


def test_one_target(tmp_path):
    # the bundled file itself, comment line and "not observed" codes included
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report360", str(bundled_sample("feedback-360")), "-i", "feedback-360",
                                 "--target", "t0001", "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<title>360-degree feedback: t0001</title>" in page
    assert "2 blind spot(s), 0 hidden strength(s) (gap threshold 0.5)" in result.stdout


def test_all_targets_with_team_page_as_json(tmp_path, three):
    folder, team = tmp_path / "pages", tmp_path / "team.html"
    result = runner.invoke(app, ["report360", three, "-i", "feedback-360", "--all", "-o", str(folder),
                                 "--team", str(team), "--threshold", "1.0", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert sorted(p.split("/")[-1] for p in payload["reports"]) == ["t0001.html", "t0002.html", "t0003.html"]
    assert payload["threshold"] == 1.0 and payload["min_raters"] == 3
    assert all(abs(flag["gap"]) >= 1.0 for flag in payload["flags"])
    assert {"target": "t0001", "competency": "problem_solving", "flag": "blind spot"}.items() <= \
        next(f for f in payload["flags"] if f["target"] == "t0001" and f["competency"] == "problem_solving").items()
    assert "Team heat map" in team.read_text()


@pytest.mark.parametrize("arguments, message", [
    ([], "give either --target T or --all"),
    (["--target", "t0001", "--all"], "give either --target T or --all"),
    (["--target", "nobody"], "target 'nobody' is not in"),
    (["--all"], "with --all, --output is a folder"),
    (["--target", "t0001", "--min-raters", "2"], "min_raters must be an integer of at least 3"),
])
def test_refusals(tmp_path, three, arguments, message):
    result = runner.invoke(app, ["report360", three, "-i", "feedback-360", "-o", str(tmp_path / "x.html"),
                                 *arguments])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
