"""Seeded data sets behind the factor-analysis reference numbers (factor_reference.R).

Run from the repository root: ``python tests/reference/factor_make_data.py``. It rewrites
factor_ordinal.csv, factor_ordinal_missing.csv, factor_binary.csv and factor_continuous.csv.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def bifactor_loadings(n_groups: int, per_group: int, general: float, group: float) -> np.ndarray:
    n_items = n_groups * per_group
    loadings = np.zeros((n_items, n_groups + 1))
    loadings[:, 0] = general
    for g in range(n_groups):
        loadings[g * per_group:(g + 1) * per_group, g + 1] = group
    return loadings


def latent(rng: np.random.Generator, loadings: np.ndarray, n: int) -> np.ndarray:
    factors = rng.standard_normal((n, loadings.shape[1]))
    unique = np.sqrt(1.0 - (loadings ** 2).sum(axis=1))
    return factors @ loadings.T + rng.standard_normal((n, loadings.shape[0])) * unique


def main() -> None:
    rng = np.random.default_rng(20261126)
    # 9 five-category items: three correlated factors (simple structure)
    pattern = np.zeros((9, 3))
    for g in range(3):
        pattern[3 * g:3 * g + 3, g] = [0.75, 0.65, 0.55]
    phi = np.array([[1, .4, .3], [.4, 1, .35], [.3, .35, 1]])
    chol = np.linalg.cholesky(phi)
    factors = rng.standard_normal((500, 3)) @ chol.T
    unique = np.sqrt(1 - np.einsum("ij,jk,ik->i", pattern, phi, pattern))
    z = factors @ pattern.T + rng.standard_normal((500, 9)) * unique
    cuts = np.array([-1.5, -0.5, 0.4, 1.2])
    ordinal = np.digitize(z, cuts) + 1
    items = [f"q{j + 1}" for j in range(9)]
    frame = pd.DataFrame(ordinal, columns=items)
    frame.index.name = "id"
    frame.to_csv(HERE / "factor_ordinal.csv")
    missing = frame.astype(float).mask(rng.random(frame.shape) < 0.08)
    missing.to_csv(HERE / "factor_ordinal_missing.csv")

    # 6 dichotomous items, one factor, spread of difficulties
    z = latent(rng, np.array([[.8], [.7], [.6], [.7], [.5], [.6]]), 400)
    binary = (z > np.array([-0.8, -0.4, 0.0, 0.3, 0.6, 0.9])).astype(int)
    pd.DataFrame(binary, columns=[f"b{j + 1}" for j in range(6)]).rename_axis("id").to_csv(HERE / "factor_binary.csv")

    # 12 continuous items: a general factor plus three group factors (4 items each)
    z = latent(rng, bifactor_loadings(3, 4, 0.55, 0.5), 300)
    pd.DataFrame(z, columns=[f"x{j + 1}" for j in range(12)]).rename_axis("id").to_csv(
        HERE / "factor_continuous.csv", float_format="%.6f")


if __name__ == "__main__":
    main()
