"""Tests of psychometrics/instrument.py, the bundled instruments and their sample data."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import psychometrics
from psychometrics.data import read_table
from psychometrics.errors import DataWarning, InstrumentError, ResponseError
from psychometrics.instrument import (
    Instrument,
    LikertFormat,
    MultipleChoiceFormat,
    SituationalJudgementFormat,
    _instrument_dir,
    bundled_sample,
    list_bundled,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ["feedback-360", "sjt-collaboration", "soft-skills-7", "sql-fundamentals"]


def _minimal() -> dict:
    return {
        "id": "mini",
        "version": "0.1",
        "title": "Mini",
        "formats": {"agree3": {"type": "likert", "options": [
            {"code": 1, "label": "no"}, {"code": 2, "label": "maybe"}, {"code": 3, "label": "yes"}]}},
        "scales": [{"id": "s", "name": "S"}, {"id": "t", "name": "T"}],
        "items": [
            {"id": "a1", "text": "A one", "scale": "s", "response": "agree3"},
            {"id": "a2", "text": "A two", "scale": "s", "response": "agree3", "keying": "-"},
            {"id": "a3", "text": "A three", "scale": "s", "response": "agree3"},
            {"id": "k1", "text": "Key one", "scale": "t", "response": {
                "type": "multiple_choice", "key": "B",
                "options": [{"id": "A", "text": "x"}, {"id": "B", "text": "y"}, {"id": "C", "text": "z"}]}},
            {"id": "k2", "text": "Key two", "scale": "t", "response": {
                "type": "situational_judgement",
                "options": [{"id": "A", "text": "p", "effectiveness": 0}, {"id": "B", "text": "q", "effectiveness": 2},
                            {"id": "C", "text": "r", "effectiveness": 1}]}},
        ],
        "scoring": {"method": "sum", "min_answered": 2},
    }


def _error(data) -> str:
    with pytest.raises(InstrumentError) as info:
        Instrument.from_dict(data, source="test.yaml")
    return str(info.value)


# ----------------------------------------------------------------------------- schema

def test_minimal_instrument_structure():
    inst = Instrument.from_dict(_minimal())
    assert inst.item_ids == ["a1", "a2", "a3", "k1", "k2"]
    assert inst.scale_items() == {"s": ["a1", "a2", "a3"], "t": ["k1", "k2"]}
    assert inst.reverse_keyed == ["a2"]
    assert isinstance(inst.response_format("a1"), LikertFormat)
    assert isinstance(inst.response_format("k1"), MultipleChoiceFormat)
    assert isinstance(inst.response_format("k2"), SituationalJudgementFormat)
    specs = inst.item_specs()
    assert specs["a2"].categories == (1, 2, 3) and specs["a2"].reverse
    assert specs["k1"].options == {"A": 0, "B": 1, "C": 0}
    assert specs["k2"].options == {"A": 0, "B": 2, "C": 1} and specs["k2"].categories == (0, 1, 2)
    with pytest.raises(KeyError, match="no item 'zz'"):
        inst.item("zz")


def test_numbers_in_yaml_are_read_as_text_where_text_is_meant():
    data = _minimal()
    data["version"] = 1.0
    data["items"][3]["response"] = {"type": "dichotomous", "key": 1,
                                    "options": [{"id": 0, "text": "false"}, {"id": 1, "text": "true"}]}
    inst = Instrument.from_dict(data)
    assert inst.version == "1.0"
    assert inst.item_specs()["k1"].options == {"0": 0, "1": 1}


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d.pop("title"), "title: required field is missing"),
        (lambda d: d["items"][0].pop("scale"), "items[0] (id 'a1').scale: required field is missing"),
        (lambda d: d["items"][1].update(keying="x"), "items[1] (id 'a2').keying: Input should be '+' or '-'"),
        (lambda d: d["items"][0].update(colour="red"), "items[0] (id 'a1').colour: unknown field"),
        (lambda d: d["items"][2].update(id="a1"), "items[2] (id 'a1').id: duplicate item id, first used by items[0]"),
        (lambda d: d["items"][0].update(scale="nope"), "items[0] (id 'a1').scale: scale 'nope' is not defined in scales"),
        (lambda d: d["items"][3]["response"].update(key="E"),
         "items[3] (id 'k1').response: key 'E' is not among the options A, B, C"),
        (lambda d: d["items"][0].update(response="agree9"),
         "items[0] (id 'a1').response: format 'agree9' is not defined in formats (agree3)"),
        (lambda d: d["items"][3].update(keying="-"),
         "items[3] (id 'k1').keying: reverse keying applies to likert items only"),
        (lambda d: d["items"][4]["response"].update(type="essay"), "items[4] (id 'k2').response: response must name"),
        (lambda d: d["formats"]["agree3"]["options"].append({"code": 3, "label": "again"}),
         "formats.agree3: option codes must be unique; repeated: 3"),
        (lambda d: d["scoring"].update(min_answered=4), "scoring.min_answered: 4 is more than the 2 items of scale 't'"),
        (lambda d: d["scoring"].update(min_answered=1.5), "min_answered as a share must be in (0, 1]"),
        (lambda d: d["scoring"].update(norms={"zz": {"mean": 1, "sd": 1, "n": 10, "source": "x"}}),
         "scoring.norms.zz: scale 'zz' is not defined in scales"),
        (lambda d: d["scoring"].update(norms={"s": {"mean": 1, "sd": 0, "n": 10, "source": "x"}}),
         "scoring.norms.s.sd: Input should be greater than 0"),
        (lambda d: d["scales"].append({"id": "empty", "name": "E"}), "scales[2]: scale 'empty' has no items"),
        (lambda d: d.update(id="has space"), "id: String should match pattern"),
        (lambda d: d.update(data_columns=[{"name": "a1"}]), "data_columns[0].name: 'a1' is also an item id"),
        (lambda d: d.update(rater_roles=[{"id": "self", "name": "Self"}]),
         "rater_roles are defined but no data column has role 'rater_role'"),
        (lambda d: d["scoring"].update(option_scoring="best") or d["items"][4]["response"]["options"][0].update(
            effectiveness=2), "best-option scoring needs one most effective option, found A, B"),
    ],
)
def test_invalid_instruments_name_the_field_and_why(mutate, expected):
    data = copy.deepcopy(_minimal())
    mutate(data)
    message = _error(data)
    assert message.startswith("invalid instrument test.yaml:")
    assert expected in message


def test_several_problems_are_reported_together():
    data = _minimal()
    data["items"][0]["scale"] = "nope"
    data["items"][1]["id"] = "a1"
    message = _error(data)
    assert "2 problems" in message
    assert "scale 'nope'" in message and "duplicate item id" in message


def test_invalid_files(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("id: x\nitems: [\n  - a\n")
    with pytest.raises(InstrumentError, match=r"bad.yaml: not valid YAML: .*\(line \d+, column \d+\)"):
        Instrument.load(bad_yaml)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"id": "x",}')
    with pytest.raises(InstrumentError, match=r"bad.json: not valid JSON: .*line 1"):
        Instrument.load(bad_json)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(InstrumentError, match="the file is empty"):
        Instrument.load(empty)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(InstrumentError, match="must be a mapping of fields, got list"):
        Instrument.load(listing)
    other = tmp_path / "inst.txt"
    other.write_text("id: x")
    with pytest.raises(InstrumentError, match="unknown instrument file type '.txt'"):
        Instrument.load(other)
    with pytest.raises(FileNotFoundError):
        Instrument.load(tmp_path / "absent.yaml")


def test_json_schema_describes_the_file_format():
    schema = Instrument.json_schema()
    assert schema["type"] == "object"
    assert {"id", "version", "title", "scales", "items"} <= set(schema["required"])
    assert {"scoring", "rater_roles", "data_columns", "formats"} <= set(schema["properties"])
    text = json.dumps(schema)
    for kind in ("likert", "dichotomous", "multiple_choice", "situational_judgement"):
        assert kind in text


def test_bundled_files_validate_against_the_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = Instrument.json_schema()
    for name in BUNDLED:
        data = yaml.safe_load((_instrument_dir() / f"{name}.yaml").read_text())
        jsonschema.validate(data, schema)


# ----------------------------------------------------------------------------- load and save

@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize("name", BUNDLED)
def test_save_and_load_round_trip(tmp_path, name, suffix):
    inst = Instrument.bundled(name)
    path = inst.save(tmp_path / f"copy{suffix}")
    assert Instrument.load(path) == inst


def test_save_is_atomic(tmp_path, monkeypatch):
    inst = Instrument.from_dict(_minimal())
    path = tmp_path / "mini.yaml"
    inst.save(path)
    before = path.read_bytes()
    changed = inst.model_copy(update={"title": "Changed"})

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        changed.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini.yaml"]  # no temporary file left
    monkeypatch.undo()
    changed.save(path)
    assert Instrument.load(path).title == "Changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini.yaml"]


def test_save_rejects_unknown_suffix(tmp_path):
    with pytest.raises(InstrumentError, match="unknown instrument file type"):
        Instrument.from_dict(_minimal()).save(tmp_path / "x.toml")


# ----------------------------------------------------------------------------- bundled

def test_list_and_locate_bundled():
    assert list_bundled() == BUNDLED
    assert psychometrics.Instrument is Instrument
    # reachable through the package folder (link to ../instruments, shipped as package data)
    package_folder = Path(psychometrics.__file__).parent / "instruments"
    assert package_folder.is_dir()
    assert package_folder.resolve() == (ROOT / "instruments").resolve()
    for name in BUNDLED:
        assert bundled_sample(name).is_file()
    with pytest.raises(InstrumentError, match="no bundled instrument 'nope'; bundled: feedback-360"):
        Instrument.bundled("nope")
    assert Instrument.bundled("soft-skills-7.yaml").id == "soft-skills-7"


def test_soft_skills_7_meets_its_specification():
    inst = Instrument.bundled("soft-skills-7")
    assert inst.id == "soft-skills-7" and inst.kind == "self_report"
    assert [s.id for s in inst.scales] == ["communication", "problem_solving", "adaptability", "teamwork",
                                           "emotional_intelligence", "leadership", "creativity"]
    for scale, items in inst.scale_items().items():
        assert 6 <= len(items) <= 8, scale
        assert sum(inst.item(i).keying == "-" for i in items) >= 2, scale
        for item in items:
            fmt = inst.response_format(item)
            assert isinstance(fmt, LikertFormat) and fmt.codes == (1, 2, 3, 4, 5)
            assert all(option.label for option in fmt.options)
    assert set(inst.scoring.norms) == {s.id for s in inst.scales}
    assert all("not a real norm group" in norm.source for norm in inst.scoring.norms.values())


def test_feedback_360_meets_its_specification():
    inst = Instrument.bundled("feedback-360")
    assert inst.kind == "multi_rater"
    assert [r.id for r in inst.rater_roles] == ["self", "manager", "peer", "direct_report"]
    assert {c.role for c in inst.data_columns} >= {"target_id", "rater_role"}
    assert [s.id for s in inst.scales] == [s.id for s in Instrument.bundled("soft-skills-7").scales]
    for items in inst.scale_items().values():
        assert 4 <= len(items) <= 6
    assert inst.metadata_values() == {"rater_role": ["self", "manager", "peer", "direct_report"]}


def test_sjt_meets_its_specification():
    inst = Instrument.bundled("sjt-collaboration")
    assert 8 <= len(inst.items) <= 12
    for item in inst.items:
        fmt = inst.response_format(item.id)
        assert isinstance(fmt, SituationalJudgementFormat) and len(fmt.options) == 4
        assert sorted(o.effectiveness for o in fmt.options) == [0, 1, 2, 3]


def test_sql_fundamentals_meets_its_specification():
    inst = Instrument.bundled("sql-fundamentals")
    assert inst.kind == "knowledge_test" and 15 <= len(inst.items) <= 25
    keys = []
    for item in inst.items:
        fmt = inst.response_format(item.id)
        assert isinstance(fmt, MultipleChoiceFormat) and len(fmt.options) == 4
        keys.append(fmt.key)
    assert set(keys) == {"A", "B", "C", "D"}  # keys are spread over the positions


# ----------------------------------------------------------------------------- prepare

@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_prepare_reverses_scores_options_and_reports_bad_cells():
    inst = Instrument.from_dict(_minimal())
    raw = pd.DataFrame({
        "respondent_id": ["p1", "p2", "p3"],
        "a1": [1, 3, 2], "a2": [1, 3, -9], "a3": [3, 3, 1],
        "k1": ["B", "a", None], "k2": ["B", "C", "A"],
    })
    r = inst.prepare(raw, missing_codes=[-9])
    # a2 reversed: 1 + 3 - x; k1 scored against key B; k2 partial credit = effectiveness
    expected = np.array([[1, 3, 3, 1, 2], [3, 1, 3, 0, 1], [2, np.nan, 1, np.nan, 0]])
    np.testing.assert_array_equal(r.values, expected)
    assert r.categories["k1"] == (0, 1) and r.categories["k2"] == (0, 1, 2)
    raw.loc[1, "a3"] = 4
    with pytest.raises(ResponseError, match=r"respondent 'p2' \(row 1\), item 'a3' \(column 3\): value 4 "
                                            r"is outside categories 1-3"):
        inst.prepare(raw)
    raw.loc[1, "a3"] = 3
    raw["extra"] = 1
    with pytest.raises(ResponseError, match=r"not items of instrument 'mini': 'extra' \(column 6\)"):
        inst.prepare(raw)


def test_best_option_scoring_of_situational_judgement():
    data = _minimal()
    data["scoring"]["option_scoring"] = "best"
    inst = Instrument.from_dict(data)
    raw = pd.DataFrame({"respondent_id": ["p1", "p2", "p3"], "k2": ["B", "C", "A"]})
    with pytest.warns(Warning, match="not in the data"):
        r = inst.prepare(raw)
    np.testing.assert_array_equal(r.frame["k2"], [1, 0, 0])


@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_prepare_360_keeps_rater_columns_as_metadata():
    inst = Instrument.bundled("feedback-360")
    items = inst.item_ids
    raw = pd.DataFrame({
        "rating_id": ["g1", "g2", "g3"],
        "target_id": ["t1", "t1", "t1"],
        "rater_role": ["self", "manager", "peer"],
        "rater_id": ["t1", "m1", "p1"],
        **{item: [3, 9, 4] for item in items},
    })
    r = inst.prepare(raw)
    assert r.item_ids == items
    assert list(r.person_ids) == ["g1", "g2", "g3"]
    assert r.metadata["rater_role"].tolist() == ["self", "manager", "peer"]
    assert np.isnan(r.frame.loc["g2"]).all()  # 9 = not able to observe
    raw.loc[2, "rater_role"] = "customer"
    with pytest.raises(ResponseError, match=r"respondent 'g3' \(row 2\), column 'rater_role' \(column 2\): "
                                            r"value 'customer' is not one of self, manager, peer, direct_report"):
        inst.prepare(raw)


# ----------------------------------------------------------------------------- score

@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_score_known_answer_prorated_sum_with_minimum():
    inst = Instrument.from_dict(_minimal())
    raw = pd.DataFrame({
        "respondent_id": ["p1", "p2", "p3"],
        "a1": [1, 3, 2], "a2": [1, 3, np.nan], "a3": [3, np.nan, np.nan],
        "k1": ["B", "A", "B"], "k2": ["B", None, "A"],
    })
    scores = inst.score(raw)
    assert list(scores.columns) == ["s", "t"]
    # p1: a = 1, 3 (reversed 1), 3 -> 7; p2: 3, 1 answered of 3 -> mean 2 * 3 = 6; p3: one answer < 2 -> NaN
    np.testing.assert_allclose(scores["s"].to_numpy(), [7.0, 6.0, np.nan])
    # t: p1 1 + 2 = 3; p2 only k1 answered (< 2) -> NaN; p3 1 + 0 = 1
    np.testing.assert_allclose(scores["t"].to_numpy(), [3.0, np.nan, 1.0])


@pytest.mark.filterwarnings("ignore::psychometrics.errors.DataWarning")
def test_score_adds_norm_based_t_scores_and_percentiles():
    data = _minimal()
    data["scoring"]["method"] = "mean"
    data["scoring"]["norms"] = {"s": {"mean": 2.0, "sd": 0.5, "n": 100, "source": "hand-made"}}
    inst = Instrument.from_dict(data)
    raw = pd.DataFrame({"respondent_id": ["p1", "p2"], "a1": [3, 1], "a2": [1, 3], "a3": [3, 2],
                        "k1": ["B", "B"], "k2": ["A", "A"]})
    scores = inst.score(raw)
    # means 3 and 4/3; T = 50 + 10 (x - 2) / 0.5; percentile = 100 Phi(z)
    np.testing.assert_allclose(scores["s_T"].to_numpy(), [70.0, 50 + 20 * (4 / 3 - 2)], atol=1e-12)
    from scipy.stats import norm

    np.testing.assert_allclose(scores["s_percentile"].to_numpy(), 100 * norm.cdf([2.0, (4 / 3 - 2) / 0.5]),
                               atol=1e-9)
    assert "t_T" not in scores.columns


# ----------------------------------------------------------------------------- samples

@pytest.mark.parametrize("name", BUNDLED)
def test_sample_files_are_small_labelled_and_valid(name):
    path = bundled_sample(name)
    assert path.stat().st_size < 300_000
    assert path.read_text().startswith("# SIMULATED DATA")
    inst = Instrument.bundled(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no data warnings on the shipped samples
        r = inst.prepare(read_table(path))
    assert 300 <= r.n_persons <= 1000
    assert r.item_ids == inst.item_ids
    rate = np.isnan(r.values).mean()
    assert 0.01 < rate < 0.08


def test_soft_skills_sample_is_keyed_like_the_instrument():
    inst = Instrument.bundled("soft-skills-7")
    raw = read_table(bundled_sample("soft-skills-7"))
    r = inst.prepare(raw)
    assert 500 <= r.n_persons <= 1000
    # after reverse keying every item correlates positively with the rest of its scale,
    # before it the reverse-keyed ones correlate negatively
    for items in inst.scale_items().values():
        keyed = r.frame[items]
        raw_items = raw.set_index("respondent_id")[items].replace(-9, np.nan)
        for item in items:
            rest = keyed.drop(columns=item).mean(axis=1)
            assert keyed[item].corr(rest) > 0.3
            raw_r = raw_items[item].corr(rest)
            assert (raw_r < 0) if inst.item(item).keying == "-" else (raw_r > 0)


def test_feedback_sample_has_targets_by_rater_roles():
    r = Instrument.bundled("feedback-360").prepare(bundled_sample("feedback-360"))
    counts = r.metadata.groupby("target_id")["rater_role"].value_counts().unstack()
    assert counts.shape[0] >= 30
    assert (counts["self"] == 1).all() and (counts["manager"] == 1).all()
    assert (counts["peer"] >= 2).all() and (counts["direct_report"] >= 2).all()


def test_sql_sample_holds_option_letters_with_every_distractor_used():
    raw = read_table(bundled_sample("sql-fundamentals")).set_index("respondent_id")
    inst = Instrument.bundled("sql-fundamentals")
    for item in inst.item_ids:
        assert set(raw[item].dropna()) == {"A", "B", "C", "D"}
    proportion = inst.prepare(raw.reset_index()).frame.mean()
    assert proportion.between(0.15, 0.95).all()


def test_samples_are_reproduced_by_the_generator():
    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "scripts" / "make_samples.py")
    if spec is None or not (ROOT / "scripts" / "make_samples.py").is_file():
        pytest.skip("scripts/make_samples.py is not in this installation")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_samples"] = module
    try:
        spec.loader.exec_module(module)
        for name in BUNDLED:
            assert module.render(name) == bundled_sample(name).read_text(), name
    finally:
        sys.modules.pop("make_samples", None)


def test_load_responses_accepts_an_instrument_path(tmp_path):
    from psychometrics.data import load_responses

    path = Instrument.from_dict(_minimal()).save(tmp_path / "mini.json")
    raw = pd.DataFrame({"respondent_id": ["p1", "p2"], "a1": [1, 3], "a2": [3, 2], "a3": [2, 2],
                        "k1": ["C", "B"], "k2": ["B", "A"]})
    r = load_responses(raw, instrument=path, warn=False)
    np.testing.assert_array_equal(r.values, [[1, 1, 2, 0, 2], [3, 2, 2, 1, 0]])


def test_prepared_responses_are_not_keyed_twice():
    inst = Instrument.bundled("soft-skills-7")
    once = inst.prepare(bundled_sample("soft-skills-7"))
    twice = inst.prepare(once)
    pd.testing.assert_frame_equal(twice.frame, once.frame)
    pd.testing.assert_frame_equal(inst.score(once), inst.score(bundled_sample("soft-skills-7")))


def test_prepare_warn_false_is_quiet_for_one_respondent_on_a_few_items():
    inst = Instrument.bundled("soft-skills-7")
    items = inst.item_ids[:3]
    one = pd.DataFrame([[3, 4, 2]], columns=items, index=pd.Index(["new"], name=inst.id_column))
    with pytest.warns(DataWarning, match="are not in the data"):
        inst.prepare(one)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = inst.prepare(one, warn=False)
    assert r.item_ids == items and r.n_persons == 1
    # errors are not silenced
    bad = one.copy()
    bad.iloc[0, 0] = 9
    with pytest.raises(ResponseError, match=items[0]):
        inst.prepare(bad, warn=False)
