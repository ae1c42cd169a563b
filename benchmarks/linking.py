"""Accuracy and time of linking methods, fixed-anchor calibration and true-score equating.

python benchmarks/linking.py --replications 20 --persons 3000 --model 2pl

Two forms of 20 items share 10 anchors (a ~ U(0.9, 2.0); 2PL b ~ N(0, 1); graded thresholds
at a location ~ N(0, 0.8) -1, 0, +1). Form X is taken by N persons from N(0, 1), form Y by N
persons from N(B, A^2) on the X scale (A = 1.25, B = 0.5 unless stated). Each form is
calibrated on its own; the constants of every method are compared with A and B, and the
fixed-anchor calibration's latent mean and SD with B and A. Prints the bias and RMSE over
replications and the median time per call.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from psychometrics.irt import Calibration, calibrate
from psychometrics.linking import calibrate_with_anchors, link, true_score_equating
from psychometrics.simulate import simulate

METHODS = ["stocking_lord", "haebara", "mean_mean", "mean_sigma"]


def bank(model: str, rng: np.random.Generator, n_items: int = 30) -> pd.DataFrame:
    ids = [f"i{j:02d}" for j in range(n_items)]
    a = rng.uniform(0.9, 2.0, n_items)
    if model == "2pl":
        return pd.DataFrame({"a": a, "b": rng.normal(0, 1, n_items)}, index=ids)
    loc = rng.normal(0, 0.8, n_items)
    return pd.DataFrame({"a": a, "b1": loc - 1.0, "b2": loc, "b3": loc + 1.0}, index=ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--model", choices=["2pl", "graded"], default="2pl")
    parser.add_argument("--A", type=float, default=1.25)
    parser.add_argument("--B", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    errors: dict[str, list[tuple[float, float]]] = {m: [] for m in METHODS + ["fixed_anchor"]}
    times: dict[str, list[float]] = {m: [] for m in METHODS + ["calibrate", "fixed_anchor", "equating"]}
    params = bank(args.model, rng)
    ids = list(params.index)
    truth = Calibration.from_item_params(params, args.model)
    for _ in range(args.replications):
        form_x = simulate(truth, args.persons, seed=rng)[ids[:20]]
        form_y = simulate(truth, args.persons, seed=rng, latent_mean=args.B, latent_sd=args.A)[ids[:10] + ids[20:]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            cal_x = calibrate(form_x, args.model)
            times["calibrate"].append(time.perf_counter() - start)
            cal_y = calibrate(form_y, args.model)
            for method in METHODS:
                start = time.perf_counter()
                result = link(cal_x, cal_y, ids[:10], method=method)
                times[method].append(time.perf_counter() - start)
                errors[method].append((result.A - args.A, result.B - args.B))
            start = time.perf_counter()
            fixed = calibrate_with_anchors(form_y, cal_x, args.model)
            times["fixed_anchor"].append(time.perf_counter() - start)
            errors["fixed_anchor"].append((float(np.sqrt(fixed.latent_variance)) - args.A,
                                           float(fixed.latent_mean) - args.B))
            start = time.perf_counter()
            true_score_equating(link(cal_x, cal_y, ids[:10]).apply(cal_y), cal_x)
            times["equating"].append(time.perf_counter() - start)
    print(f"model {args.model}, {args.persons} persons per form, 20 items per form, 10 anchors, "
          f"A = {args.A}, B = {args.B}, {args.replications} replications")
    print(f"{'method':>14} {'bias A':>8} {'RMSE A':>8} {'bias B':>8} {'RMSE B':>8} {'median s':>9}")
    for method, errs in errors.items():
        e = np.asarray(errs)
        print(f"{method:>14} {e[:, 0].mean():8.4f} {np.sqrt((e[:, 0] ** 2).mean()):8.4f} "
              f"{e[:, 1].mean():8.4f} {np.sqrt((e[:, 1] ** 2).mean()):8.4f} {np.median(times[method]):9.4f}")
    for name in ("calibrate", "equating"):
        print(f"{name:>14} median {np.median(times[name]):.4f} s per call")


if __name__ == "__main__":
    main()
