"""Generate the simulated sample data shipped with the bundled instruments.

    python scripts/make_samples.py            # rewrites instruments/<id>.sample.csv
    python scripts/make_samples.py --check    # regenerates in memory, fails if a file differs

Every file is simulated from the generating parameters stated below with
:func:`psychometrics.simulate.simulate` (item response models from
:mod:`psychometrics.irt`), and its first line says so. No real person answered them. The
output is deterministic for a given ``SEED``.

soft-skills-7 (800 respondents)
    Graded response model per scale; each scale is driven by its own trait, and the seven
    traits are drawn from a multivariate normal with unit variances and the correlations
    in ``TRAIT_CORRELATIONS``. Item j of a scale has slope ``SLOPES[scale][j]`` and
    thresholds ``LOCATIONS[scale][j] + THRESHOLD_STEPS``. Reverse-keyed items are generated
    on the trait's direction and then written reversed (6 - x), as a respondent would
    answer a negatively worded item. 5% of the answers are missing completely at random;
    one in five of them is written as the missing code -9, the rest are blank.
feedback-360 (60 targets x 8 raters = 480 ratings)
    Each target has seven correlated competencies (``TRAIT_CORRELATIONS``); each rating
    sees target competency + rater-role leniency (``ROLE_LENIENCY``) + rater noise N(0,
    ``RATER_NOISE_SD``^2), per competency. Raters per target: self, manager, three peers,
    three direct reports. Graded model, slopes ``FEEDBACK_SLOPE``, thresholds
    ``FEEDBACK_STEPS``. 4% of the answers are "not able to observe" (code 9), 1% blank.
sjt-collaboration (600 respondents)
    One trait N(0, 1). The keyed effectiveness (0-3) of the chosen option follows a graded
    model (``SJT_SLOPES``, thresholds ``SJT_THRESHOLDS``); the file holds the letter of
    the option with that effectiveness. 3% of the answers are missing.
sql-fundamentals (1000 respondents)
    Correct or incorrect from a 3PL with ``SQL_PARAMS`` (a, b, g); an incorrect answer
    picks among the item's distractors (in option order) with probabilities
    ``DISTRACTOR_WEIGHTS`` rotated by item position. 2% of the answers are omitted.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from psychometrics.instrument import Instrument
from psychometrics.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTS = ROOT / "instruments"
SEED = 20261126

SCALES = ["communication", "problem_solving", "adaptability", "teamwork", "emotional_intelligence",
          "leadership", "creativity"]

# Correlations of the seven traits, in the order of SCALES.
TRAIT_CORRELATIONS = np.array([
    [1.00, 0.35, 0.30, 0.50, 0.45, 0.50, 0.30],
    [0.35, 1.00, 0.35, 0.30, 0.25, 0.40, 0.45],
    [0.30, 0.35, 1.00, 0.35, 0.35, 0.30, 0.40],
    [0.50, 0.30, 0.35, 1.00, 0.45, 0.35, 0.25],
    [0.45, 0.25, 0.35, 0.45, 1.00, 0.40, 0.25],
    [0.50, 0.40, 0.30, 0.35, 0.40, 1.00, 0.35],
    [0.30, 0.45, 0.40, 0.25, 0.25, 0.35, 1.00],
])

# soft-skills-7: graded model, seven items per scale in the instrument's order.
SLOPES = {
    "communication": [1.6, 1.4, 1.1, 1.5, 1.0, 1.3, 1.2],
    "problem_solving": [1.5, 1.7, 1.0, 1.4, 1.2, 1.1, 1.3],
    "adaptability": [1.7, 1.2, 1.4, 1.3, 1.0, 1.5, 1.1],
    "teamwork": [1.4, 1.6, 1.1, 1.3, 1.2, 0.9, 1.5],
    "emotional_intelligence": [1.2, 1.3, 1.4, 1.5, 0.9, 1.2, 1.1],
    "leadership": [1.6, 1.8, 1.1, 1.4, 1.2, 1.3, 1.5],
    "creativity": [1.7, 1.4, 1.0, 1.5, 1.1, 1.3, 1.2],
}
LOCATIONS = {
    "communication": [-0.4, -0.6, 0.1, -0.2, 0.3, 0.0, 0.2],
    "problem_solving": [-0.3, -0.1, 0.2, -0.5, 0.0, 0.4, -0.2],
    "adaptability": [-0.2, 0.3, -0.6, 0.1, 0.4, -0.3, 0.2],
    "teamwork": [-0.7, -0.5, 0.2, -0.1, -0.3, 0.3, -0.4],
    "emotional_intelligence": [-0.3, -0.2, 0.1, 0.2, 0.4, -0.5, 0.0],
    "leadership": [0.0, 0.3, 0.2, -0.2, -0.4, 0.5, 0.4],
    "creativity": [-0.1, -0.3, 0.3, 0.0, 0.4, 0.2, -0.5],
}
THRESHOLD_STEPS = np.array([-2.2, -1.0, 0.2, 1.5])
LIKERT_MISSING_RATE = 0.05
N_SOFT_SKILLS = 800

# feedback-360: graded model, same slope and thresholds for every item of a competency.
N_TARGETS = 60
RATERS = ["self", "manager", "peer", "peer", "peer", "direct_report", "direct_report", "direct_report"]
ROLE_LENIENCY = {"self": 0.40, "manager": 0.00, "peer": 0.15, "direct_report": 0.25}
RATER_NOISE_SD = 0.6
FEEDBACK_SLOPE = [1.8, 1.6, 1.5, 1.7, 1.4]
FEEDBACK_STEPS = np.array([-2.4, -1.3, -0.1, 1.2])
NOT_OBSERVED_RATE = 0.04
FEEDBACK_BLANK_RATE = 0.01

# sjt-collaboration: graded model on the effectiveness 0..3 of the chosen option.
N_SJT = 600
SJT_SLOPES = [1.1, 0.9, 1.2, 0.8, 1.0, 0.9, 1.3, 0.8, 1.0, 1.1]
SJT_THRESHOLDS = [
    [-2.0, -1.0, 0.3], [-1.8, -0.6, 0.5], [-2.2, -1.2, 0.0], [-1.5, -0.4, 0.8], [-2.4, -1.4, -0.2],
    [-1.9, -0.8, 0.4], [-2.1, -1.1, 0.1], [-1.6, -0.5, 0.7], [-2.0, -0.9, 0.2], [-1.7, -0.7, 0.6],
]
SJT_MISSING_RATE = 0.03

# sql-fundamentals: 3PL (a, b, g) per item, then distractor choice.
N_SQL = 1000
SQL_PARAMS = [
    (1.2, -2.0, 0.20), (1.4, -1.2, 0.20), (1.6, -0.6, 0.22), (1.1, -1.0, 0.25), (1.5, 0.3, 0.18),
    (1.3, -1.4, 0.20), (1.7, -0.2, 0.20), (1.8, 0.1, 0.15), (1.2, -0.4, 0.22), (1.0, -1.6, 0.25),
    (1.4, 0.0, 0.20), (1.9, 0.4, 0.18), (1.6, 0.6, 0.20), (2.0, 0.8, 0.15), (1.3, 0.9, 0.22),
    (1.5, 0.5, 0.20), (1.1, -0.8, 0.25), (1.8, 1.1, 0.15), (2.1, 1.4, 0.12), (1.2, -0.3, 0.20),
]
DISTRACTOR_WEIGHTS = np.array([0.5, 0.3, 0.2])
SQL_MISSING_RATE = 0.02

HEADER = ("# SIMULATED DATA, not real respondents: generated by scripts/make_samples.py "
          "(seed {seed}) from the parameters stated there; {what}.\n")


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(1, n + 1)]


def _traits(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.multivariate_normal(np.zeros(len(SCALES)), TRAIT_CORRELATIONS, size=n, method="cholesky")


def _graded(slopes: list[float], thresholds: np.ndarray, item_ids: list[str], theta: np.ndarray,
            rng: np.random.Generator, codes: tuple[int, ...]) -> pd.DataFrame:
    columns = {"a": slopes}
    for k in range(thresholds.shape[1]):
        columns[f"b{k + 1}"] = thresholds[:, k]
    params = pd.DataFrame(columns, index=item_ids)
    out = simulate(params, theta.shape[0], model="graded", theta=theta, seed=rng, categories=codes)
    return out.reset_index(drop=True)


def soft_skills(rng: np.random.Generator) -> pd.DataFrame:
    instrument = Instrument.bundled("soft-skills-7")
    theta = _traits(rng, N_SOFT_SKILLS)
    parts = []
    for s, scale in enumerate(SCALES):
        items = instrument.scale_items()[scale]
        thresholds = np.asarray(LOCATIONS[scale])[:, None] + THRESHOLD_STEPS[None, :]
        parts.append(_graded(SLOPES[scale], thresholds, items, theta[:, s], rng, (1, 2, 3, 4, 5)))
    data = pd.concat(parts, axis=1)[instrument.item_ids]
    for item in instrument.reverse_keyed:
        data[item] = 6 - data[item]
    missing = rng.random(data.shape) < LIKERT_MISSING_RATE
    coded = missing & (rng.random(data.shape) < 0.2)
    values = data.to_numpy()
    values[missing] = np.nan
    values[coded] = -9
    data = pd.DataFrame(values, columns=data.columns).astype("Int64")
    data.insert(0, "respondent_id", _ids("r", N_SOFT_SKILLS))
    return data


def feedback(rng: np.random.Generator) -> pd.DataFrame:
    instrument = Instrument.bundled("feedback-360")
    target_theta = _traits(rng, N_TARGETS)
    n = N_TARGETS * len(RATERS)
    target = np.repeat(np.arange(N_TARGETS), len(RATERS))
    roles = np.tile(RATERS, N_TARGETS)
    leniency = np.array([ROLE_LENIENCY[r] for r in roles])
    theta = target_theta[target] + leniency[:, None] + rng.normal(0.0, RATER_NOISE_SD, size=(n, len(SCALES)))
    parts = []
    for s, scale in enumerate(SCALES):
        items = instrument.scale_items()[scale]
        thresholds = np.tile(FEEDBACK_STEPS, (len(items), 1))
        parts.append(_graded(FEEDBACK_SLOPE[:len(items)], thresholds, items, theta[:, s], rng, (1, 2, 3, 4, 5)))
    values = pd.concat(parts, axis=1)[instrument.item_ids].to_numpy()
    draw = rng.random(values.shape)
    values[draw < NOT_OBSERVED_RATE] = 9
    values[(draw >= NOT_OBSERVED_RATE) & (draw < NOT_OBSERVED_RATE + FEEDBACK_BLANK_RATE)] = np.nan
    data = pd.DataFrame(values, columns=instrument.item_ids).astype("Int64")
    target_ids = np.array(_ids("t", N_TARGETS))[target]
    # Self-ratings carry the target's own id as rater; other raters get their own ids.
    rater_ids = np.where(roles == "self", target_ids, np.array(_ids("x", n)))
    data.insert(0, "rater_id", rater_ids)
    data.insert(0, "rater_role", roles)
    data.insert(0, "target_id", target_ids)
    data.insert(0, "rating_id", _ids("g", n))
    return data


def sjt(rng: np.random.Generator) -> pd.DataFrame:
    instrument = Instrument.bundled("sjt-collaboration")
    theta = rng.normal(size=N_SJT)
    scores = _graded(SJT_SLOPES, np.asarray(SJT_THRESHOLDS), instrument.item_ids, theta, rng, (0, 1, 2, 3))
    data = pd.DataFrame(index=range(N_SJT))
    for item in instrument.item_ids:
        letter_of = {o.effectiveness: o.id for o in instrument.response_format(item).options}
        column = scores[item].to_numpy()
        letters = np.array([letter_of[k] for k in range(4)], dtype=object)[column.astype(int)]
        letters[rng.random(N_SJT) < SJT_MISSING_RATE] = None
        data[item] = letters
    data.insert(0, "respondent_id", _ids("s", N_SJT))
    return data


def sql(rng: np.random.Generator) -> pd.DataFrame:
    instrument = Instrument.bundled("sql-fundamentals")
    params = pd.DataFrame(SQL_PARAMS, columns=["a", "b", "g"], index=instrument.item_ids)
    theta = rng.normal(size=N_SQL)
    correct = simulate(params, N_SQL, model="3PL", theta=theta, seed=rng).to_numpy()
    data = pd.DataFrame(index=range(N_SQL))
    for j, item in enumerate(instrument.item_ids):
        fmt = instrument.response_format(item)
        distractors = [o.id for o in fmt.options if o.id != fmt.key]
        weights = np.roll(DISTRACTOR_WEIGHTS, j)
        wrong = rng.choice(np.array(distractors, dtype=object), size=N_SQL, p=weights)
        letters = np.where(correct[:, j] == 1, fmt.key, wrong).astype(object)
        letters[rng.random(N_SQL) < SQL_MISSING_RATE] = None
        data[item] = letters
    data.insert(0, "respondent_id", _ids("q", N_SQL))
    return data


GENERATORS = {
    "soft-skills-7": (soft_skills, "graded model, seven correlated traits, 5% missing (blank or -9)"),
    "feedback-360": (feedback, "graded model, targets x rater roles with leniency and rater noise, "
                               "9 = not able to observe"),
    "sjt-collaboration": (sjt, "graded model on option effectiveness, written as option letters"),
    "sql-fundamentals": (sql, "3PL for correct answers plus distractor choice, written as option letters"),
}


def render(name: str) -> str:
    """The text of one sample file (each instrument has its own seeded generator)."""
    make, what = GENERATORS[name]
    rng = np.random.default_rng([SEED, sorted(GENERATORS).index(name)])
    buffer = io.StringIO()
    buffer.write(HEADER.format(seed=SEED, what=what))
    make(rng).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a shipped file differs from a fresh run")
    parser.add_argument("names", nargs="*", default=sorted(GENERATORS), help="instrument ids (default: all)")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names:
        text = render(name)
        path = INSTRUMENTS / f"{name}.sample.csv"
        if args.check:
            same = path.is_file() and path.read_text(encoding="utf-8") == text
            print(f"{path.name}: {'up to date' if same else 'DIFFERS'}")
            status |= not same
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{path.name}: {len(text.encode()) / 1024:.0f} KB")
    return status


if __name__ == "__main__":
    sys.exit(main())
