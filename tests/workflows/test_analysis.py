"""analyze_instrument gathers the same numbers as the underlying verbs."""

import numpy as np
import pytest

from psychometrics import ctt, reliability
from psychometrics.analysis import analyze_instrument
from psychometrics.instrument import Instrument, bundled_sample


@pytest.fixture(scope="module")
def soft_skills():
    instrument = Instrument.bundled("soft-skills-7")
    frame = bundled_sample("soft-skills-7")
    return instrument, instrument.prepare(frame, warn=False), analyze_instrument(instrument, frame)


def test_one_row_per_scale_and_item(soft_skills):
    instrument, _, result = soft_skills
    assert list(result.scales.index) == [s.id for s in instrument.scales]
    assert sorted(result.items.index) == sorted(instrument.item_ids)


def test_numbers_equal_the_verbs(soft_skills):
    instrument, responses, result = soft_skills
    items = instrument.scale_items()["teamwork"]
    sub = responses.subset(items)
    expected = reliability.alpha(sub)
    row = result.scales.loc["teamwork"]
    assert row["alpha"] == pytest.approx(expected.alpha, abs=1e-12)
    assert row["alpha_ci_low"] == pytest.approx(expected.ci_low, abs=1e-12)
    assert row["lambda6"] == pytest.approx(reliability.guttman(sub).lambda6, abs=1e-12)
    table = ctt.item_analysis(sub)
    np.testing.assert_allclose(result.items.loc[items, "r_drop"], table["r_drop"], atol=1e-12)


def test_to_dict_is_json_ready(soft_skills):
    import json

    _, _, result = soft_skills
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["instrument"] == "soft-skills-7"
    assert len(payload["scales"]) == 7
