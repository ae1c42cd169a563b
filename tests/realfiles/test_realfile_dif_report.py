"""The DIF table and the findings agree, and the report explains the classes (issue 9, part 9)."""

from __future__ import annotations

import re

import pytest

from dif_data import frame_with_dif, two_scale_instrument
from psychometrics.validation import validate
from psychometrics.workflows.validation import DIF_CLASSES


@pytest.fixture(scope="module")
def result():
    return validate(two_scale_instrument(), frame_with_dif(), group="cohort", n_replications=2)


def _table_rows(dif):
    rows = {}
    for key, row in dif.iterrows():
        item = key[-1] if isinstance(key, tuple) else key
        klass = str(row["dif_class"]).strip().upper()
        if bool(row["flag"]) or klass in ("B", "BB", "C", "CC"):
            rows[str(item)] = (klass, bool(row["flag"]))
    return rows


def test_findings_list_exactly_the_flagged_rows_with_their_class(result):
    table = _table_rows(result.dif)
    findings = {f.target: f for f in result.findings if f.statistic == "dif" and f.scope == "item"}
    assert set(findings) == set(table)
    assert "g2" in table and table["g2"][0] == "CC"  # two categories easier: large DIF
    for item, (klass, flagged) in table.items():
        finding = findings[item]
        assert f"ETS class {klass};" in finding.message
        assert finding.message.endswith("; significant after Holm adjustment)" if flagged
                                        else "; not significant after Holm adjustment)")
        assert finding.severity == ("warning" if klass in ("C", "CC") else "note")
    assert findings["g2"].message == "item g2: large DIF by cohort (b vs a) (ETS class CC; significant after Holm adjustment)"


def test_report_explains_the_classes_shown(result):
    pytest.importorskip("jinja2")
    pytest.importorskip("matplotlib")
    from psychometrics.report import render

    page = render(result)
    shown = {str(c).strip().upper() for c in result.dif["dif_class"].dropna()}
    legend = re.search(r'<div class="dif-legend" id="dif-legend">(.*?)</div>', page, re.S)
    assert legend is not None
    for name in shown:
        assert f"<dt>{name}</dt><dd>{DIF_CLASSES[name].replace('<', '&lt;').replace('>', '&gt;')}</dd>" in legend.group(1)
    assert "Holm-adjusted" in legend.group(1)
