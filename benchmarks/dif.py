"""False-positive rate and power of DIF methods on simulated 2PL data.

python benchmarks/dif.py --replications 100 --persons 2000
python benchmarks/dif.py --replications 5 --methods irt_lr_drop,irt_wald --conditions null,uniform

The IRT methods calibrate the multi-group model 20-60 times per call (about 1-5 s each call
at N = 2000 per group), so all methods with 100 replications take about an hour on one core;
splitting the conditions or methods over several processes gives the same numbers, since
each condition's data sets depend only on --seed and the condition.

Twenty 2PL items (a ~ U(0.8, 2.0), b ~ N(0, 1), fixed across replications), N persons per
group, both groups N(0, 1) unless stated. Conditions:

- null: no DIF;
- null_impact: no DIF, focal group latent mean -0.5 (2PL data: the sum score is not a
  sufficient statistic, so some inflation of the false-positive rate of the observed-score
  methods is expected; the IRT methods estimate the focal group's latent mean);
- uniform: items 1 and 2 harder for the focal group by --shift logits (b + shift);
- nonuniform: items 1 and 2 with the focal group's discrimination times --slope-ratio.

Methods (``--methods``, comma-separated keys, default all):

- ``mh``, ``mh_purified``: Mantel-Haenszel, without and with iterative purification;
- ``lr``, ``lr_purified``: logistic regression, 2-df test (uniform + non-uniform);
- ``irt_lr_drop``: IRT likelihood ratio, constrained baseline, each item freed in turn;
- ``irt_lr_add``: IRT likelihood ratio, free baseline without anchors (latent distribution
  held at its all-equal estimate);
- ``irt_wald``: IRT Wald test on that free baseline;
- ``irt_lr_add_anchored``, ``irt_wald_anchored``: the same two tests with --anchors anchor
  items chosen by rank from the ``irt_lr_drop`` pass (the items with the smallest drop
  statistic; Woods, 2009). The anchors are not tested; their time includes the drop pass;
- ``irt_lr_purified``: one purification step of the drop pass: the items it flags (Holm) are
  tested with "add" against the unflagged items as anchors, every unflagged item with "add"
  against the other unflagged items (the flagged ones free); Holm over all items. Without a
  flag in the drop pass it is the drop pass;
- ``irt_lr_add_true_anchors``, ``irt_wald_true_anchors``: a check of the tests themselves,
  with the last --anchors items (DIF-free by construction) as anchors.

The IRT tests use the 2PL and ``reference="ref"``. All methods see the same simulated data
sets within a condition.

For each method it prints the rate at which the planted items are flagged (power; a planted
item that a method picked as an anchor counts as not flagged) and the rate at which the
other items it tested are flagged (false positives), both for the unadjusted p < .05 and for
``flag`` (Holm-adjusted over the tested items within a replication), and the time per call.
A second table gives the mean test statistic over the DIF-free tested items divided by its
degrees of freedom (1.0 for a well-calibrated chi-square test). Runs that raised, and
warnings, are counted below the tables.

References
----------
Woods, C. M. (2009). Empirical selection of anchors for tests of differential item
functioning. Applied Psychological Measurement, 33, 42-57.
"""

from __future__ import annotations

import argparse
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from psychometrics.dif import adjust_pvalues, irt_lr, irt_wald, logistic, mantel_haenszel

N_ITEMS = 20
PLANTED = [0, 1]
ITEM_IDS = [f"i{j + 1:02d}" for j in range(N_ITEMS)]


def simulate(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, n: int, condition: str,
             shift: float, slope_ratio: float) -> tuple[pd.DataFrame, np.ndarray]:
    theta = rng.normal(size=2 * n)
    if condition == "null_impact":
        theta[n:] -= 0.5
    a_all = np.tile(a, (2 * n, 1))
    b_all = np.tile(b, (2 * n, 1))
    if condition == "uniform":
        b_all[n:, PLANTED] += shift
    elif condition == "nonuniform":
        a_all[n:, PLANTED] *= slope_ratio
    p = 1.0 / (1.0 + np.exp(-a_all * (theta[:, None] - b_all)))
    x = (rng.random(p.shape) < p).astype(np.float64)
    return pd.DataFrame(x, columns=ITEM_IDS), np.repeat(["ref", "foc"], n)


@dataclass
class FirstPass:
    """The drop-scheme pass of one data set, shared by the methods whose anchors it picks."""

    cache: dict[int, tuple[pd.DataFrame, float]] = field(default_factory=dict)

    def get(self, key: int, x: pd.DataFrame, g: np.ndarray) -> tuple[pd.DataFrame, float]:
        if key not in self.cache:
            start = time.perf_counter()
            table = irt_lr(x, g, reference="ref", scheme="drop")
            self.cache[key] = (table, time.perf_counter() - start)
        return self.cache[key]


def rank_anchors(first: pd.DataFrame, n_anchors: int) -> list[str]:
    order = first["chi2"].sort_values(kind="stable").index
    return [str(i) for i in order[:n_anchors]]


def purified_lr(x: pd.DataFrame, g: np.ndarray, first: pd.DataFrame) -> pd.DataFrame:
    """One purification step of the IRT likelihood-ratio test.

    The items not flagged by the drop pass become anchors A. A flagged item is tested with
    the "add" scheme against A; an anchor item j against A without j (the flagged items
    free in both models). Holm over all items.
    """
    flagged = [str(i) for i in first.index[first["flag"].to_numpy(dtype=bool)]]
    if not flagged:
        return first
    anchors = [i for i in ITEM_IDS if i not in flagged]
    parts = [irt_lr(x, g, reference="ref", scheme="add", anchors=anchors, adjust="none")]
    for item in anchors:
        others = [i for i in anchors if i != item]
        parts.append(irt_lr(x, g, reference="ref", scheme="add", anchors=others, items=[item], adjust="none"))
    table = pd.concat(parts).loc[ITEM_IDS]
    table["p_adjusted"] = adjust_pvalues(table["p"].to_numpy(dtype=np.float64), "holm")
    table["flag"] = np.nan_to_num(table["p_adjusted"].to_numpy(dtype=np.float64), nan=1.0) < 0.05
    return table


def build_methods(first_pass: FirstPass, n_anchors: int) -> dict[str, tuple[str, Callable]]:
    """key -> (label, call(x, g, key) -> (table, seconds the method took on this data set))."""

    def plain(fn: Callable) -> Callable:
        def run(x, g, key):
            start = time.perf_counter()
            table = fn(x, g)
            return table, time.perf_counter() - start
        return run

    def drop(x, g, key):
        # through the cache, so that the anchored methods reuse this very run (and its time)
        return first_pass.get(key, x, g)

    def anchored(fn: Callable) -> Callable:
        def run(x, g, key):
            first, seconds = first_pass.get(key, x, g)
            start = time.perf_counter()
            table = fn(x, g, first)
            return table, seconds + time.perf_counter() - start
        return run

    return {
        "mh": ("MH", plain(lambda x, g: mantel_haenszel(x, g, reference="ref"))),
        "mh_purified": ("MH purified", plain(lambda x, g: mantel_haenszel(x, g, reference="ref", purify=True))),
        "lr": ("LR (2 df)", plain(lambda x, g: logistic(x, g, reference="ref"))),
        "lr_purified": ("LR (2 df) purified", plain(lambda x, g: logistic(x, g, reference="ref", purify=True))),
        "irt_lr_drop": ("IRT-LR drop", drop),
        "irt_lr_add": ("IRT-LR add", plain(lambda x, g: irt_lr(x, g, reference="ref", scheme="add"))),
        "irt_wald": ("IRT Wald", plain(lambda x, g: irt_wald(x, g, reference="ref"))),
        "irt_lr_purified": ("IRT-LR purified", anchored(lambda x, g, first: purified_lr(x, g, first))),
        "irt_lr_add_anchored": (f"IRT-LR add {n_anchors} anch",
                                anchored(lambda x, g, first: irt_lr(x, g, reference="ref", scheme="add",
                                                                    anchors=rank_anchors(first, n_anchors)))),
        "irt_wald_anchored": (f"IRT Wald {n_anchors} anch",
                              anchored(lambda x, g, first: irt_wald(x, g, reference="ref",
                                                                    anchors=rank_anchors(first, n_anchors)))),
        "irt_lr_add_true_anchors": (f"IRT-LR add {n_anchors} true",
                                    plain(lambda x, g: irt_lr(x, g, reference="ref", scheme="add",
                                                              anchors=ITEM_IDS[-n_anchors:]))),
        "irt_wald_true_anchors": (f"IRT Wald {n_anchors} true",
                                  plain(lambda x, g: irt_wald(x, g, reference="ref", anchors=ITEM_IDS[-n_anchors:]))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--persons", type=int, default=2000, help="persons per group")
    parser.add_argument("--shift", type=float, default=0.5, help="uniform DIF in logits")
    parser.add_argument("--slope-ratio", type=float, default=0.5, help="focal/reference discrimination")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--conditions", default="null,null_impact,uniform,nonuniform")
    parser.add_argument("--methods", default="all",
                        help="comma-separated keys (see above) or 'all'")
    parser.add_argument("--anchors", type=int, default=4, help="anchor items of the anchored IRT methods")
    args = parser.parse_args()
    if args.replications < 1:
        parser.error("--replications must be at least 1")
    if not 1 <= args.anchors < N_ITEMS:
        parser.error(f"--anchors must be between 1 and {N_ITEMS - 1}")

    item_rng = np.random.default_rng(1)
    a = item_rng.uniform(0.8, 2.0, N_ITEMS)
    b = item_rng.normal(size=N_ITEMS)
    first_pass = FirstPass()
    registry = build_methods(first_pass, args.anchors)
    keys = list(registry) if args.methods == "all" else [k.strip() for k in args.methods.split(",") if k.strip()]
    unknown = [k for k in keys if k not in registry]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {list(registry)}")
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    bad = [c for c in conditions if c not in ("null", "null_impact", "uniform", "nonuniform")]
    if bad:
        parser.error(f"unknown condition(s) {bad}")

    planted = np.zeros(N_ITEMS, dtype=bool)
    planted[PLANTED] = True
    print(f"{args.replications} replications, {args.persons} persons per group, {N_ITEMS} items, "
          f"DIF on items {[p + 1 for p in PLANTED]} (shift {args.shift}, slope ratio {args.slope_ratio})",
          flush=True)
    header = f"{'condition':<12} {'method':<20} {'power p<.05':>11} {'power flag':>10} " \
             f"{'FP p<.05':>9} {'FP flag':>8} {'ms/call':>8}"
    print(header)
    print("-" * len(header), flush=True)
    calibration_rows: list[str] = []
    notes: list[str] = []
    for condition in conditions:
        # crc32, not hash(): str hashes change from one process to the next
        rng = np.random.default_rng([args.seed, zlib.crc32(condition.encode())])
        data_sets = [simulate(rng, a, b, args.persons, condition, args.shift, args.slope_ratio)
                     for _ in range(args.replications)]
        first_pass.cache.clear()
        has_dif = condition in ("uniform", "nonuniform")
        others = ~planted if has_dif else np.ones(N_ITEMS, dtype=bool)
        for method_key in keys:
            name, method = registry[method_key]
            raw = np.zeros(N_ITEMS)
            flagged = np.zeros(N_ITEMS)
            tested = np.zeros(N_ITEMS)
            null_stat: list[float] = []
            elapsed = 0.0
            failures: list[str] = []
            n_warnings: dict[str, int] = {}
            for index, (x, g) in enumerate(data_sets):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        table, seconds = method(x, g, index)
                    except Exception as exc:  # a benchmark reports failures, it does not stop on them
                        failures.append(f"{type(exc).__name__}: {exc}")
                        continue
                    finally:
                        for w in caught:
                            n_warnings[w.category.__name__] = n_warnings.get(w.category.__name__, 0) + 1
                elapsed += seconds
                position = [ITEM_IDS.index(str(i)) for i in table.index]
                p = table["p"].to_numpy(dtype=np.float64)
                raw[position] += np.nan_to_num(p, nan=1.0) < 0.05
                flagged[position] += table["flag"].to_numpy(dtype=bool)
                tested[position] += 1
                clean = others[position]
                df = table["df"].to_numpy(dtype=np.float64)
                null_stat.extend((table["chi2"].to_numpy(dtype=np.float64)[clean] / df[clean]).tolist())
            done = args.replications - len(failures)
            if done == 0:
                print(f"{condition:<12} {name:<20} all {args.replications} runs failed: {failures[0]}", flush=True)
                continue
            # power over every planted item and completed run; FP over the tests actually made
            power_raw = f"{raw[planted].sum() / (done * planted.sum()):11.3f}" if has_dif else f"{'-':>11}"
            power_flag = f"{flagged[planted].sum() / (done * planted.sum()):10.3f}" if has_dif else f"{'-':>10}"
            n_tests = tested[others].sum()
            fp_raw = raw[others].sum() / n_tests if n_tests else np.nan
            fp_flag = flagged[others].sum() / n_tests if n_tests else np.nan
            print(f"{condition:<12} {name:<20} {power_raw} {power_flag} {fp_raw:9.3f} "
                  f"{fp_flag:8.3f} {1000 * elapsed / done:8.1f}", flush=True)
            stats = np.asarray(null_stat)
            stats = stats[np.isfinite(stats)]
            mean_stat = stats.mean() if stats.size else np.nan
            calibration_rows.append(f"{condition:<12} {name:<20} {mean_stat:10.3f} {stats.size:8d}")
            if failures:
                notes.append(f"{condition} / {name}: {len(failures)} of {args.replications} runs failed, "
                             f"first: {failures[0]}")
            if n_warnings:
                notes.append(f"{condition} / {name}: warnings {n_warnings}")

    print()
    header = f"{'condition':<12} {'method':<20} {'chi2/df':>10} {'n tests':>8}"
    print("Mean statistic / df over the DIF-free tested items")
    print(header)
    print("-" * len(header))
    print("\n".join(calibration_rows))
    if notes:
        print()
        print("\n".join(notes))


if __name__ == "__main__":
    main()
