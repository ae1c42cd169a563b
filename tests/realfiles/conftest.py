"""Messy files as real exports make them: written here by the tests, never read from disk."""

from __future__ import annotations

import pytest

from messy import BIG_FIVE_ITEMS, big_five_frame


@pytest.fixture
def big_five_csv(tmp_path):
    """pandas' default ``to_csv``: the row index is written as a first, unnamed column."""
    path = tmp_path / "bfi.csv"
    big_five_frame().to_csv(path)
    return path


@pytest.fixture
def big_five_instrument(tmp_path):
    """An instrument of the Big Five-style file: one scale per letter, all keyed +."""
    import json

    document = {
        "id": "bfi-15", "version": "1.0", "title": "Big Five, 15 items", "id_column": "respondent_id",
        "formats": {"six": {"type": "likert", "options": [{"code": c, "label": str(c)} for c in range(1, 7)]}},
        "scales": [{"id": trait, "name": name} for trait, name in
                   (("A", "Agreeableness"), ("C", "Conscientiousness"), ("E", "Extraversion"),
                    ("N", "Neuroticism"), ("O", "Openness"))],
        "items": [{"id": item, "text": f"Item {item}", "scale": item[0], "response": "six"}
                  for item in BIG_FIVE_ITEMS],
    }
    path = tmp_path / "bfi.json"
    path.write_text(json.dumps(document))
    return path
