"""Shared helpers of the observed-score DIF tests: the R reference output and a 2PL simulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _reference_lines(tag: str) -> dict[str, dict[str, float]]:
    """Parse lines 'TAG item key=value ...' of tests/reference/dif_reference.out."""
    out: dict[str, dict[str, float]] = {}
    for line in (REFERENCE / "dif_reference.out").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == tag:
            out[parts[1]] = {k: float(v) for k, v in (p.split("=") for p in parts[2:])}
    return out


def _simulate_2pl(rng: np.random.Generator, n_per_group: int, n_items: int, *,
                  uniform: dict[int, float] | None = None, slope_ratio: dict[int, float] | None = None,
                  missing: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """2PL responses of groups 'ref' then 'foc'; ``uniform`` shifts difficulty for 'foc',
    ``slope_ratio`` scales its discrimination."""
    n = 2 * n_per_group
    theta = rng.normal(size=n)
    a = np.tile(rng.uniform(0.8, 1.8, n_items), (n, 1))
    b = np.tile(np.linspace(-1.5, 1.5, n_items), (n, 1))
    for j, shift in (uniform or {}).items():
        b[n_per_group:, j] += shift
    for j, ratio in (slope_ratio or {}).items():
        a[n_per_group:, j] *= ratio
    x = (rng.random((n, n_items)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))).astype(float)
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    frame = pd.DataFrame(x, columns=[f"i{j + 1:02d}" for j in range(n_items)],
                         index=pd.Index([f"p{k}" for k in range(n)], name="person"))
    return frame, np.repeat(["ref", "foc"], n_per_group)


@pytest.fixture
def reference_lines() -> Callable[[str], dict[str, dict[str, float]]]:
    """``reference_lines(tag)``: the R reference values of one method, item -> name -> value."""
    return _reference_lines


@pytest.fixture
def simulate_2pl() -> Callable[..., tuple[pd.DataFrame, np.ndarray]]:
    """``simulate_2pl(rng, n_per_group, n_items, uniform=, slope_ratio=, missing=)``."""
    return _simulate_2pl
