"""Writes the omega_bifactor_*.csv files (seeded; run once, output committed).

A bifactor structure: a general factor on 12 items and three uncorrelated group factors of
four items each. ``omega_bifactor_continuous.csv`` holds 500 continuous scores in varied
units (so that ML standardization is exercised), ``omega_bifactor_ordinal.csv`` 600
five-category Likert items cut from the same kind of latent responses. The ``_missing``
files are the same matrices with 6% of the cells blanked at random (MCAR).
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261126)
general = np.array([0.70, 0.60, 0.65, 0.55, 0.60, 0.50, 0.70, 0.55, 0.50, 0.65, 0.60, 0.45])
group = np.array([0.50, 0.40, 0.45, 0.35, 0.45, 0.55, 0.30, 0.40, 0.40, 0.35, 0.50, 0.45])
group_of = np.repeat(np.arange(3), 4)
unique = np.sqrt(1.0 - general**2 - group**2)


def latent(n: int) -> np.ndarray:
    factors = rng.standard_normal((n, 4))
    return (factors[:, :1] * general + factors[:, 1 + group_of] * group
            + rng.standard_normal((n, 12)) * unique)


here = Path(__file__).parent
names = [f"y{j + 1}" for j in range(12)]
scale = np.array([1.0, 2.5, 0.5, 1.5, 3.0, 1.0, 0.8, 2.0, 1.2, 0.6, 4.0, 1.0])
continuous = pd.DataFrame(np.round(10.0 + latent(500) * scale, 4), columns=names)
continuous.to_csv(here / "omega_bifactor_continuous.csv", index=False)
continuous.mask(rng.random(continuous.shape) < 0.06).to_csv(
    here / "omega_bifactor_continuous_missing.csv", index=False)

cuts = np.array([-1.8, -0.8, 0.2, 1.2]) + rng.uniform(-0.4, 0.4, (12, 1))
names = [f"q{j + 1}" for j in range(12)]
codes = 1 + (latent(600)[:, :, None] > cuts[None, :, :]).sum(axis=2)
ordinal = pd.DataFrame(codes, columns=names)
ordinal.to_csv(here / "omega_bifactor_ordinal.csv", index=False)
ordinal.mask(rng.random(ordinal.shape) < 0.06).astype("Int64").to_csv(here / "omega_bifactor_ordinal_missing.csv",
                                                      index=False)
