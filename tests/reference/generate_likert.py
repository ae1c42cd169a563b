"""Regenerate ``likert_500x8.csv``: simulated Likert responses used as reference data.

500 persons x 8 five-point items from a one-factor graded model, 5% of cells set
missing completely at random. Run from this folder: ``python generate_likert.py``.
"""

import numpy as np
import pandas as pd


def main() -> None:
    rng = np.random.default_rng(20261126)
    n_persons, n_items = 500, 8
    theta = rng.standard_normal(n_persons)
    loadings = np.linspace(0.4, 0.8, n_items)
    latent = theta[:, None] * loadings + rng.standard_normal((n_persons, n_items)) * np.sqrt(1 - loadings**2)
    thresholds = np.array([-1.5, -0.5, 0.4, 1.3])
    codes = 1.0 + (latent[:, :, None] > thresholds).sum(axis=2)
    codes[rng.random(codes.shape) < 0.05] = np.nan
    frame = pd.DataFrame(codes, columns=[f"q{j + 1}" for j in range(n_items)],
                         index=pd.Index([f"p{i + 1:03d}" for i in range(n_persons)], name="id"))
    frame.to_csv("likert_500x8.csv", float_format="%.0f")


if __name__ == "__main__":
    main()
