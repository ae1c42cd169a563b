"""Small item pools for the adaptive-testing tests (seeded, stated parameters)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psychometrics.irt import Calibration


def two_pl_pool(n_items: int = 40, seed: int = 11) -> Calibration:
    rng = np.random.default_rng(seed)
    params = pd.DataFrame({"a": rng.uniform(0.8, 2.2, n_items), "b": rng.normal(0.0, 1.0, n_items)},
                          index=[f"q{j:02d}" for j in range(n_items)])
    return Calibration.from_item_params(params, "2pl")


def graded_pool(n_items: int = 12, seed: int = 12) -> Calibration:
    """Four-category graded items with response codes 1-4."""
    rng = np.random.default_rng(seed)
    b = np.sort(rng.normal(0.0, 1.0, (n_items, 3)), axis=1)
    params = pd.DataFrame(b, columns=["b1", "b2", "b3"], index=[f"g{j:02d}" for j in range(n_items)])
    params.insert(0, "a", rng.uniform(0.8, 2.0, n_items))
    return Calibration.from_item_params(params, "graded", categories=(1, 2, 3, 4))


def mixed_pool() -> Calibration:
    """3PL, graded and generalized partial credit items in one pool."""
    params = pd.DataFrame({"a": [1.2, 1.8, 1.0, 1.4, 0.9, 1.6],
                           "b": [-0.5, 0.4, 1.1, np.nan, np.nan, np.nan],
                           "g": [0.2, 0.15, 0.25, np.nan, np.nan, np.nan],
                           "b1": [np.nan, np.nan, np.nan, -1.0, -0.8, -1.5],
                           "b2": [np.nan, np.nan, np.nan, 0.3, 0.5, 0.0],
                           "b3": [np.nan, np.nan, np.nan, 1.2, np.nan, 1.1]},
                          index=["m1", "m2", "m3", "m4", "m5", "m6"])
    models = {"m1": "3pl", "m2": "3pl", "m3": "3pl", "m4": "graded", "m5": "gpcm", "m6": "gpcm"}
    return Calibration.from_item_params(params, models)
