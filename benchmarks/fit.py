"""Timings of the fit statistics on simulated data.

    python benchmarks/fit.py --persons 100000 --items 30
    python benchmarks/fit.py --persons 20000 --items 20 --categories 5

Prints the sizes and the wall time of each statistic (parameters are the generating ones,
so no calibration time is included).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from psychometrics import fit
from psychometrics.irt import Calibration
from psychometrics.simulate import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--categories", type=int, default=2)
    parser.add_argument("--missing", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    columns = {"a": rng.uniform(0.8, 2.0, args.items)}
    if args.categories == 2:
        columns["b"] = rng.normal(0.0, 1.0, args.items)
        model = "2pl"
    else:
        centre = rng.normal(0.0, 0.5, args.items)
        for k, step in enumerate(np.linspace(-1.5, 1.5, args.categories - 1)):
            columns[f"b{k + 1}"] = centre + step
        model = "graded"
    params = pd.DataFrame(columns, index=[f"q{j:03d}" for j in range(args.items)])
    calibration = Calibration.from_item_params(params, model)
    data = simulate(calibration, args.persons, missing=args.missing, seed=args.seed)
    print(f"{args.persons} persons x {args.items} {model} items ({args.categories} categories), "
          f"{args.missing:.0%} missing")

    def timed(name, call):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
        print(f"  {name:<28} {time.perf_counter() - start:8.2f} s")

    timed("s_x2", lambda: fit.s_x2(calibration, data))
    theta = np.zeros(args.persons)
    timed("infit_outfit (theta given)", lambda: fit.infit_outfit(calibration, data, theta=theta))
    timed("rmsd", lambda: fit.rmsd(calibration, data))
    timed("item_fit (EAP scoring)", lambda: fit.item_fit(calibration, data))
    timed("person_fit (WLE)", lambda: fit.person_fit(calibration, data))
    timed("q3 (EAP)", lambda: fit.q3(calibration, data))
    timed("ld_x2", lambda: fit.ld_x2(calibration, data))
    kind = "M2*" if args.categories == 2 or args.items * (args.items + 1) // 2 > args.items * args.categories \
        else "C2"
    timed(f"m2 ({kind})", lambda: fit.m2(calibration, data, type=kind))


if __name__ == "__main__":
    main()
