"""Messy files as real exports make them: written here by the tests, never read from disk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

BIG_FIVE_ITEMS = [f"{trait}{k}" for trait in ("A", "C", "E", "N", "O") for k in range(1, 4)]


def big_five_frame(n: int = 300, seed: int = 7) -> pd.DataFrame:
    """A Big Five-style survey export: six-point items A1..O3 driven by one trait per letter,
    plus the demographic columns such files carry (gender 1/2, education, age)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for trait in ("A", "C", "E", "N", "O"):
        theta = rng.standard_normal(n)
        for k in range(1, 4):
            latent = 0.7 * theta + 0.7 * rng.standard_normal(n)
            columns[f"{trait}{k}"] = np.clip(np.round(3.5 + 1.3 * latent), 1, 6).astype(int)
    frame = pd.DataFrame(columns)
    frame["gender"] = rng.integers(1, 3, n)
    frame["education"] = rng.integers(1, 6, n)
    frame["age"] = rng.integers(18, 70, n)
    return frame


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
