"""Writes cfa_ordinal.csv and cfa_ordinal_missing.csv (seeded; run once, output committed).

Two correlated factors (r = 0.4), four five-category Likert items each, 500 respondents.
The missing-data file is the same matrix with 6% of the cells blanked at random (MCAR).
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(4041)
n = 500
loadings = np.array([0.8, 0.7, 0.6, 0.5, 0.75, 0.65, 0.55, 0.7])
factor_of = np.array([0, 0, 0, 0, 1, 1, 1, 1])
phi = np.array([[1.0, 0.4], [0.4, 1.0]])
eta = rng.standard_normal((n, 2)) @ np.linalg.cholesky(phi).T
latent = eta[:, factor_of] * loadings + rng.standard_normal((n, 8)) * np.sqrt(1 - loadings**2)
cuts = np.array([[-1.8, -0.9, 0.1, 1.0], [-1.5, -0.5, 0.4, 1.3], [-2.0, -1.1, -0.2, 0.8],
                 [-1.2, -0.4, 0.5, 1.5], [-1.7, -0.7, 0.2, 1.1], [-1.4, -0.6, 0.3, 1.2],
                 [-2.1, -1.0, 0.0, 0.9], [-1.6, -0.8, 0.3, 1.4]])
codes = 1 + (latent[:, :, None] > cuts[None, :, :]).sum(axis=2)
frame = pd.DataFrame(codes, columns=[f"q{j + 1}" for j in range(8)])
here = Path(__file__).parent
frame.to_csv(here / "cfa_ordinal.csv", index=False)
holes = rng.random(frame.shape) < 0.06
frame.mask(holes).to_csv(here / "cfa_ordinal_missing.csv", index=False)
