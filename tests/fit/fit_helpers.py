"""Data and calibrations shared by the fit tests.

mirt's estimates are those pinned in mirt's own test suite (philchalmers/mirt,
tests/testthat/test-01-mirtOne.R, ``coef(mod1)`` of ``mirt(expand.table(LSAT7), 1)``, and
tests/testthat/test-02-mirtTwo.R, ``coef(modp1)`` of ``mirt(Science, 1)``), in mirt's
slope-intercept form.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from psychometrics.irt import Calibration

LSAT7_SLOPE_INTERCEPT = pd.DataFrame(
    {"a1": [0.988, 1.081, 1.706, 0.7651, 0.7358], "d": [1.8561, 0.808, 1.8043, 0.486, 1.8545]},
    index=[f"Item.{i}" for i in range(1, 6)])

SCIENCE_SLOPE_INTERCEPT = pd.DataFrame(
    np.array([1.041, 4.864, 2.64, -1.466, 1.226, 2.924, 0.901, -2.266,
              2.296, 5.238, 2.216, -1.965, 1.095, 3.348, 0.992, -1.688]).reshape(4, 4),
    index=["Comfort", "Work", "Future", "Benefit"], columns=["a1", "d1", "d2", "d3"])


def expand_patterns(table: pd.DataFrame) -> pd.DataFrame:
    """One row per person from a table of response patterns with a ``freq`` column."""
    rows = table.loc[table.index.repeat(table["freq"])].drop(columns="freq")
    return rows.reset_index(drop=True).astype(float)


def two_pl(n_items: int, seed: int) -> Calibration:
    """A 2PL calibration with spread parameters, for simulations."""
    rng = np.random.default_rng(seed)
    params = pd.DataFrame({"a": rng.uniform(0.8, 2.0, n_items), "b": np.linspace(-1.5, 1.5, n_items)},
                          index=[f"i{j:02d}" for j in range(n_items)])
    return Calibration.from_item_params(params, "2pl")


def graded(n_items: int, n_categories: int, seed: int) -> Calibration:
    rng = np.random.default_rng(seed)
    columns = {"a": rng.uniform(0.8, 2.0, n_items)}
    centre = np.linspace(-1.0, 1.0, n_items)
    steps = np.linspace(-1.5, 1.5, n_categories - 1)
    for k in range(n_categories - 1):
        columns[f"b{k + 1}"] = centre + steps[k]
    params = pd.DataFrame(columns, index=[f"g{j:02d}" for j in range(n_items)])
    return Calibration.from_item_params(params, "graded")


# Bock & Lieberman (1970), LSAT section 6: 30 observed patterns of 5 items and their counts
# (1000 persons), as tabulated in Bock & Aitkin (1981) and distributed with R's mirt and ltm.
LSAT6_PATTERNS = """
00000 3  00001 6  00010 2  00011 11 00100 1  00101 1  00110 3  00111 4
01000 1  01001 8  01011 16 01101 3  01110 2  01111 15 10000 10 10001 29
10010 14 10011 81 10100 3  10101 28 10110 15 10111 80 11000 16 11001 56
11010 21 11011 173 11100 11 11101 61 11110 28 11111 298
"""


def lsat6() -> pd.DataFrame:
    tokens = LSAT6_PATTERNS.split()
    patterns = np.array([[int(c) for c in p] for p in tokens[::2]], dtype=np.float64)
    counts = np.array([int(c) for c in tokens[1::2]])
    return pd.DataFrame(np.repeat(patterns, counts, axis=0), columns=[f"Item_{i}" for i in range(1, 6)])
