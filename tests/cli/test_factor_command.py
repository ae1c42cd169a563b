"""``psychometrics factor``: the tables and JSON equal the factor API."""

import json

import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from psychometrics import factor  # noqa: E402
from psychometrics.cli import app  # noqa: E402
from psychometrics.instrument import Instrument, bundled_sample  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def two_scales(tmp_path_factory):
    instrument = Instrument.bundled("soft-skills-7")
    items = instrument.scale_items()
    keep = ["respondent_id"] + items["teamwork"] + items["leadership"]
    frame = pd.read_csv(bundled_sample("soft-skills-7"), comment="#")[keep]
    path = tmp_path_factory.mktemp("factor") / "two_scales.csv"
    frame.to_csv(path, index=False)
    prepared = instrument.prepare(frame, warn=False)
    return path, prepared, {"teamwork": items["teamwork"], "leadership": items["leadership"]}


def test_json_equals_api(two_scales):
    path, prepared, scales = two_scales
    result = runner.invoke(app, ["factor", str(path), "-i", "soft-skills-7", "--json", "--n-replications", "5"])
    assert result.exit_code in (0, 1), result.output
    payload = json.loads(result.stdout)
    assert payload["correlation"] == "polychoric"
    expected_kmo = factor.kmo(prepared, correlation="polychoric").overall
    assert payload["kmo"]["overall"] == pytest.approx(expected_kmo, abs=1e-12)
    expected_cfa = factor.cfa(prepared, scales, estimator="dwls")
    assert payload["cfa"]["cfi_scaled"] == pytest.approx(expected_cfa.cfi_scaled, abs=1e-10)
    assert payload["cfa"]["rmsea_scaled"] == pytest.approx(expected_cfa.rmsea_scaled, abs=1e-10)
    # two intended scales -> a two-factor EFA, one row per item
    assert len(payload["efa"]) == 14 and len(payload["efa"][0]) == 3


def test_tables_and_exit_code(two_scales):
    path, _, _ = two_scales
    # the former option name still works, with a deprecation warning
    result = runner.invoke(app, ["factor", str(path), "-i", "soft-skills-7", "--parallel-iter", "5"])
    assert result.exit_code in (0, 1), result.output
    assert "--parallel-iter is deprecated" in result.output
    assert "Factorability and fit" in result.output and "CFA standardized loadings" in result.output


def test_bad_correlation_is_one_line_error(two_scales):
    path, _, _ = two_scales
    result = runner.invoke(app, ["factor", str(path), "-i", "soft-skills-7", "--correlation", "spearman"])
    assert result.exit_code == 2
    assert "polychoric or pearson" in result.output
