"""Every public result class has summary(), to_frame() and a one-line repr with its key numbers."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import numpy as np
import pandas as pd
import pytest

import psychometrics
from psychometrics import reliability
from psychometrics.dif.purification import PurificationResult
from psychometrics.norms import NormTable
from psychometrics.workflows.analysis import InstrumentAnalysis
from psychometrics.workflows.validation import DataSummary, FactorStructure, ScaleIRT

# Dataclasses that are containers or inputs, not results of an analysis.
NOT_RESULTS = {"Responses", "ItemSpec", "Encoded", "ParameterBlock", "FreeParameters", "GroupSpec",
               "Quadrature", "Finding", "CategoryProblem", "Design", "StopRule",
               "ScoringPlan"}  # precomputed tables for score_codes, not a result


def _result_classes() -> list[type]:
    found = {}
    for info in pkgutil.walk_packages(psychometrics.__path__, "psychometrics."):
        if any(part in info.name for part in (".cli", ".report", ".service", "__main__")):
            continue
        module = importlib.import_module(info.name)
        for name, cls in vars(module).items():
            if (inspect.isclass(cls) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
                    and not name.startswith("_") and name not in NOT_RESULTS):
                found[f"{cls.__module__}.{name}"] = cls
    return [found[key] for key in sorted(found)]


RESULT_CLASSES = _result_classes()


def test_the_walk_finds_the_results() -> None:
    names = {cls.__name__ for cls in RESULT_CLASSES}
    assert {"Calibration", "AlphaResult", "CFAResult", "PurificationResult", "NormTable", "DataSummary",
            "FactorStructure", "ScaleIRT", "InstrumentAnalysis", "Validation"} <= names


@pytest.mark.parametrize("cls", RESULT_CLASSES, ids=lambda cls: cls.__name__)
def test_every_result_has_summary_to_frame_and_its_own_repr(cls: type) -> None:
    assert callable(getattr(cls, "summary", None)), f"{cls.__name__} has no summary()"
    assert callable(getattr(cls, "to_frame", None)), f"{cls.__name__} has no to_frame()"
    # the generated dataclass repr prints whole frames over many lines
    assert cls.__repr__.__code__.co_filename != "<string>", f"{cls.__name__} keeps the generated repr"


def _one_line(obj: object) -> str:
    text = repr(obj)
    assert "\n" not in text and len(text) < 400, text
    return text


def test_alpha_result_repr_is_one_line_with_alpha() -> None:
    rng = np.random.default_rng(1)
    theta = rng.normal(size=200)
    data = pd.DataFrame({f"i{k}": np.round(theta + rng.normal(size=200)) for k in range(5)})
    result = reliability.alpha(data)
    assert f"alpha={result.alpha:.4g}" in _one_line(result)


def test_purification_result() -> None:
    result = PurificationResult(result=None, anchors=np.array([True, False, True]), iterations=2, converged=True)
    assert _one_line(result) == "PurificationResult(result=None, anchors=3, iterations=2, converged=True)"
    assert result.to_frame()["anchor"].tolist() == [True, False, True]
    assert result.summary() == "purification: 2 of 3 items as anchors after 2 pass(es), converged"


def test_norm_table() -> None:
    table = NormTable.from_sample(pd.Series([1.0, 2.0, 3.0, 4.0], name="grit"))
    assert _one_line(table) == "NormTable('grit', n=4, mean=2.5, sd=1.291)"
    assert table.summary() == "norm sample for 'grit': n = 4, mean = 2.5, SD = 1.291, scores 1 to 4"


def test_data_summary() -> None:
    summary = DataSummary(n_persons=10, n_items=4, n_missing=2, missing_rate=0.05, warnings=("item x is constant",))
    assert _one_line(summary) == "DataSummary(n_persons=10, n_items=4, n_missing=2, missing_rate=0.05, warnings=1 entries)"
    frame = summary.to_frame()
    assert frame.loc[0, "n_missing"] == 2 and frame.loc[0, "n_warnings"] == 1
    assert summary.summary().splitlines()[0] == "10 persons x 4 items, 2 missing cells (5.0%)"


def test_factor_structure_and_scale_irt_without_steps() -> None:
    structure = FactorStructure(correlation="pearson", kmo=None, bartlett=None, parallel=None, efa=None,
                                efa_suggested=None, cfa=None)
    assert _one_line(structure) == "FactorStructure(correlation='pearson', n_findings=0)"
    assert structure.to_frame().loc[0, "n_findings"] == 0
    assert structure.summary() == "factor structure on pearson correlations"
    failed = ScaleIRT(scale="grit", model="graded", calibration=None, marginal_reliability=float("nan"),
                      item_fit=None, scores=None, error="too few persons")
    assert "error='too few persons'" in _one_line(failed)
    assert failed.to_frame().empty
    assert failed.summary() == "grit: graded calibration failed: too few persons"


def test_instrument_analysis() -> None:
    scales = pd.DataFrame({"alpha": [0.8123]}, index=pd.Index(["grit"], name="scale"))
    items = pd.DataFrame({"scale": ["grit", "grit"]}, index=["i1", "i2"])
    analysis = InstrumentAnalysis("demo", scales, items, ["m"])
    assert _one_line(analysis) == "InstrumentAnalysis('demo', 1 scales, 2 items, 1 messages)"
    assert analysis.to_frame().loc["grit", "alpha"] == 0.8123
    assert analysis.summary().splitlines()[1] == "  grit: alpha 0.812"


def test_result_frames_carry_their_facts_as_attributes() -> None:
    from psychometrics.agreement import ICCTable, icc
    from psychometrics.fairness import GroupTable, group_summary

    ratings = pd.DataFrame({"r1": [1, 2, 3, 4, 5, 6], "r2": [1, 3, 3, 5, 5, 7], "r3": [2, 2, 4, 4, 6, 6]})
    table = icc(ratings)
    assert isinstance(table, ICCTable) and isinstance(table, pd.DataFrame)
    assert (table.n_targets, table.n_raters, table.n_dropped, table.confidence_level) == (6, 3, 0, 0.95)
    assert table.loc[["ICC1", "ICC2"]].n_raters == 3            # slices keep the attributes
    assert table.attrs["ci"] == 0.95                              # former key, kept for one release
    scores = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    groups = pd.Series(["a", "a", "a", "b", "b", "c"])
    with pytest.warns(UserWarning, match="MIN_GROUP_SIZE"):
        summary = group_summary(scores, groups, reference="b")
    assert isinstance(summary, GroupTable) and summary.reference_group == "b"
    assert summary.attrs["reference"] == "b"
    with pytest.raises(TypeError, match="no attribute"):
        GroupTable.of(pd.DataFrame(), reference="b")
