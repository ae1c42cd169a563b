"""Time and peak memory of calibrating items with many categories (0-100 sliders).

    python benchmarks/many_categories.py --persons 2000 --items 5 --categories 101 [--models graded,gpcm,nominal]

Each model runs in its own process so that its peak resident memory (``ru_maxrss``) is its
own. Simulated slider answers: a one-factor latent response rounded onto 0..K-1. ``priors``:
parameters under a model's default prior (the nominal category scores, above 10 categories).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def run_one(model: str, persons: int, items: int, categories: int, seed: int) -> dict:
    import numpy as np
    import pandas as pd

    from psychometrics import irt
    from psychometrics.data import load_responses

    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(persons)
    loadings = np.linspace(0.6, 0.8, items)
    latent = theta[:, None] * loadings + rng.standard_normal((persons, items)) * np.sqrt(1 - loadings**2)
    top = categories - 1
    codes = np.clip(np.round(top / 2 + latent * top / 6), 0, top)
    frame = pd.DataFrame(codes, columns=[f"slider{j + 1}" for j in range(items)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    responses = load_responses(frame, max_categories=categories, warn=False)
    loaded = time.perf_counter() - start
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calibration = irt.calibrate(responses, model, max_iter=200)
    # what the user is told: a non-converged run must have said so
    told = sorted({w.category.__name__ for w in caught if "never used" not in str(w.message)})
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    used = max(len(c) for c in calibration.categories.values())
    return {"model": model, "seconds": seconds, "load_seconds": loaded, "peak_mb": peak / 1024,
            "growth_mb": (peak - before) / 1024, "iterations": calibration.n_iter,
            "converged": calibration.converged, "categories_used": used, "warnings": told,
            "default_priors": int((calibration.priors["source"] == "default").sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--categories", type=int, default=101)
    parser.add_argument("--models", default="graded,gpcm,nominal")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.persons, args.items, args.categories, args.seed)))
        return
    print(f"{args.persons} persons x {args.items} items, up to {args.categories} categories")
    print(f"{'model':<8} {'seconds':>8} {'iters':>6} {'conv':>5} {'K used':>7} {'peak RSS MB':>12} "
          f"{'growth MB':>10} {'priors':>7}  warnings")
    for model in args.models.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", model, "--persons", str(args.persons), "--items",
                              str(args.items), "--categories", str(args.categories), "--seed", str(args.seed)],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"{model:<8} failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['model']:<8} {r['seconds']:8.2f} {r['iterations']:6d} {str(r['converged']):>5} "
              f"{r['categories_used']:7d} {r['peak_mb']:12.0f} {r['growth_mb']:10.0f} {r['default_priors']:7d}  "
              f"{', '.join(r['warnings']) or '-'}")


if __name__ == "__main__":
    main()
