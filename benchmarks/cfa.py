"""Timing of psychometrics.factor.cfa on simulated data.

    python benchmarks/cfa.py --persons 100000 --items 50 --factors 5 --missing 0.05

Prints sizes and wall-clock seconds for ML (continuous scores), DWLS / ULS (five-category
items, polychoric correlations and their asymptotic covariance included) and, with
``--missing``, FIML on the continuous scores with that share of cells blanked at random
(modification indices, computed on first access, included in the timing).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from psychometrics.factor.cfa import cfa


def simulate(n_persons: int, n_items: int, n_factors: int, seed: int) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    factor_of = np.arange(n_items) % n_factors
    loadings = rng.uniform(0.5, 0.8, n_items)
    phi = np.full((n_factors, n_factors), 0.3) + 0.7 * np.eye(n_factors)
    eta = rng.standard_normal((n_persons, n_factors)) @ np.linalg.cholesky(phi).T
    latent = eta[:, factor_of] * loadings + rng.standard_normal((n_persons, n_items)) * np.sqrt(1 - loadings**2)
    columns = [f"i{j + 1}" for j in range(n_items)]
    model = {f"f{k + 1}": [columns[j] for j in np.flatnonzero(factor_of == k)] for k in range(n_factors)}
    return pd.DataFrame(latent, columns=columns), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--factors", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--missing", type=float, default=0.0, help="share of cells blanked for FIML")
    args = parser.parse_args()
    continuous, model = simulate(args.persons, args.items, args.factors, args.seed)
    likert = pd.DataFrame(np.digitize(continuous.to_numpy(), [-1.5, -0.5, 0.5, 1.5]) + 1.0,
                          columns=continuous.columns)
    print(f"{args.persons} persons, {args.items} items, {args.factors} factors")
    runs = [("ml", continuous, {}), ("dwls", likert, {}), ("uls", likert, {})]
    if args.missing > 0:
        holes = np.random.default_rng(args.seed + 1).random(continuous.shape) < args.missing
        patchy = continuous.mask(holes)
        patterns = len(np.unique(holes, axis=0))
        print(f"FIML: {args.missing:.0%} of cells missing, {patterns} missing-data patterns")
        runs += [("fiml", patchy, {"missing": "fiml", "information": "expected"}),
                 ("fiml/observed", patchy, {"missing": "fiml"})]
    for label, data, options in runs:
        start = time.perf_counter()
        fit = cfa(data, model, "ml" if label.startswith("fiml") else label, **options)
        fitted = time.perf_counter() - start
        _ = fit.modification_indices
        total = time.perf_counter() - start
        print(f"{label:>13}: {fitted:7.2f} s fit, {total:7.2f} s with modification indices "
              f"({fit.n_iterations} iterations, df {fit.df}, chi2 {fit.chi2:.1f}, converged {fit.converged})")


if __name__ == "__main__":
    main()
