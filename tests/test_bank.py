"""Item bank files: layout, exact round trip, and clear errors for files that are not banks."""

import json

import pandas as pd
import pytest

from psychometrics.bank import BANK_FORMAT, BANK_SCHEMA_VERSION, ItemBank, read_bank
from psychometrics.irt import Calibration


@pytest.fixture
def bank():
    graded = Calibration.from_item_params(
        pd.DataFrame({"a": [1.3, 0.7], "b1": [-1.2, -0.4], "b2": [0.3, 0.9]}, index=["t1", "t2"]), "graded",
        categories=(1, 2, 3))
    twopl = Calibration.from_item_params(pd.DataFrame({"a": [1.1, 1.9], "b": [0.2, -0.8]}, index=["k1", "k2"]),
                                         "2pl")
    return ItemBank(scales={"teamwork": graded, "knowledge": twopl}, instrument_id="demo-inst",
                    instrument_version="2.1", instrument_title="Demo")


def test_layout(bank):
    doc = json.loads(bank.to_json())
    assert doc["format"] == BANK_FORMAT and doc["schema_version"] == BANK_SCHEMA_VERSION == 1
    assert doc["instrument"] == {"id": "demo-inst", "version": "2.1", "title": "Demo"}
    assert list(doc["scales"]) == ["teamwork", "knowledge"]
    assert doc["scales"]["teamwork"]["model"] == "graded" and doc["scales"]["teamwork"]["items"] == ["t1", "t2"]
    # each scale embeds the calibration's own versioned document
    embedded = Calibration.from_json(json.dumps(doc["scales"]["knowledge"]["calibration"]))
    assert embedded.item_ids == ["k1", "k2"]
    assert doc["software"].startswith("psychometrics ") and doc["created"].endswith("+00:00")


def test_round_trip_is_exact(bank, tmp_path):
    path = tmp_path / "bank.json"
    path.write_text(bank.to_json())
    back = read_bank(path)
    assert back.instrument_id == "demo-inst" and back.instrument_version == "2.1"
    assert list(back.scales) == ["teamwork", "knowledge"]
    for scale, calibration in bank.scales.items():
        pd.testing.assert_frame_equal(back.scales[scale].item_params, calibration.item_params, rtol=0, atol=0)
        assert back.scales[scale].categories == calibration.categories
    assert back.model_of("teamwork") == "graded" and back.model_of("knowledge") == "2pl"
    assert back.to_json().split('"created"')[1:] and json.loads(back.to_json())["scales"] == \
        json.loads(bank.to_json())["scales"]


def test_bank_without_instrument(bank):
    plain = ItemBank(scales={"all": bank.scales["knowledge"]})
    doc = json.loads(plain.to_json())
    assert doc["instrument"] is None
    assert ItemBank.from_json(plain.to_json()).instrument_id is None


@pytest.mark.parametrize("text,message", [
    ("{not json", "is not JSON"),
    ('{"format": "something-else"}', "is not an item bank"),
    ('[1, 2]', "is not an item bank"),
    (json.dumps({"format": BANK_FORMAT, "schema_version": 99, "scales": {}}), "schema version 99"),
    (json.dumps({"format": BANK_FORMAT, "schema_version": 1, "scales": {}}), "scales"),
    (json.dumps({"format": BANK_FORMAT, "schema_version": 1, "scales": {"s": {"model": "graded", "items": ["x"]}}}),
     "scales.s.calibration"),
])
def test_invalid_documents(text, message):
    with pytest.raises(ValueError, match=message):
        ItemBank.from_json(text, source="bank.json")


def test_item_list_must_match_calibration(bank):
    doc = json.loads(bank.to_json())
    doc["scales"]["teamwork"]["items"] = ["t2", "t1"]
    with pytest.raises(ValueError, match="scale 'teamwork'.*does not match"):
        ItemBank.from_json(json.dumps(doc))
    doc = json.loads(bank.to_json())
    doc["scales"]["teamwork"]["calibration"]["items"] = "oops"
    with pytest.raises(ValueError, match="scale 'teamwork'"):
        ItemBank.from_json(json.dumps(doc))


def test_missing_file_and_empty_bank(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_bank(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="at least one"):
        ItemBank(scales={})


def test_bank_module_does_not_need_typer():
    import subprocess
    import sys

    code = ("import sys; sys.modules['typer'] = None; sys.modules['rich'] = None; "
            "import psychometrics.bank as b; print(b.BANK_FORMAT)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == BANK_FORMAT


def test_save_is_atomic_and_reads_back(bank, tmp_path, monkeypatch):
    import os

    path = tmp_path / "bank.json"
    assert bank.save(path) == path
    before = path.read_bytes()
    assert read_bank(path).instrument_id == "demo-inst"

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    # a failed rewrite leaves the previous bank in place and no temporary file
    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        ItemBank(scales=dict(bank.scales)).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bank.json"]


def test_to_frame_has_one_row_per_item(bank):
    frame = bank.to_frame()
    assert list(frame.index) == ["t1", "t2", "k1", "k2"] and frame.index.name == "item"
    assert list(frame["scale"]) == ["teamwork", "teamwork", "knowledge", "knowledge"]
    assert list(frame["model"]) == ["graded", "graded", "2pl", "2pl"]
    assert frame.loc["t2", "b2"] == 0.9 and frame.loc["k2", "b"] == -0.8 and frame.loc["k1", "a"] == 1.1
    assert pd.isna(frame.loc["k1", "b1"]) and pd.isna(frame.loc["t1", "b"])


def test_summary_and_one_line_repr(bank):
    assert repr(bank) == "ItemBank(instrument='demo-inst' v2.1, 2 scales, 4 items: teamwork=graded(2), knowledge=2pl(2))"
    assert repr(ItemBank(scales={"all": bank.scales["knowledge"]})) == \
        "ItemBank(no instrument, 1 scales, 2 items: all=2pl(2))"
    text = bank.summary()
    assert text.splitlines()[0] == "Item bank of instrument 'demo-inst' version 2.1 (Demo)"
    assert "teamwork" in text and "knowledge" in text and "0.9" in text
    scales = bank.scales_frame()
    assert list(scales.index) == ["teamwork", "knowledge"] and list(scales["n_items"]) == [2, 2]
    assert list(scales["model"]) == ["graded", "2pl"] and list(scales["n_collapsed"]) == [0, 0]
