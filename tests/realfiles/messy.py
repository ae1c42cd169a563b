"""Helpers of the messy-file tests: a Big Five-style survey export."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
