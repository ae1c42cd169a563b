r"""Simulated adaptive tests: many examinees at once, and what the results say about the design.

:func:`simulate` draws every examinee's answer to every item up front (inverse-CDF sampling at
the true theta; by local independence this is the same as drawing each answer when the item is
given) and then runs the engine one test position at a time across all examinees still testing.

References
----------
.. [1] Chen, S.-Y., Ankenmann, R. D., & Spray, J. A. (2003). The relationship between item
       exposure and test overlap in computerized adaptive testing. *Journal of Educational
       Measurement*, 40(2), 129-145.
.. [2] Kingsbury, G. G., & Zara, A. R. (1989). Procedures for selecting items for computerized
       adaptive tests. *Applied Measurement in Education*, 2(4), 359-375.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psychometrics._blas import single_threaded_blas
from psychometrics.bank import ItemBank
from psychometrics.cat._engine import Engine
from psychometrics.cat._options import Design, StopRule, build_design
from psychometrics.irt import Calibration

__all__ = ["simulate", "SimulationResult", "THETA_BANDS"]

#: Edges of the theta bands of the conditional statistics.
THETA_BANDS = (-np.inf, -2.0, -1.0, 0.0, 1.0, 2.0, np.inf)
_DRAW_CHUNK = 4096


def _true_thetas(thetas: Any) -> pd.Series:
    if isinstance(thetas, (int, np.integer)) and not isinstance(thetas, bool):
        raise TypeError("thetas must be the examinees' true theta values (an array or Series), not a count; "
                        "e.g. numpy.random.default_rng(1).standard_normal(1000)")
    series = thetas.copy() if isinstance(thetas, pd.Series) else pd.Series(np.asarray(thetas, dtype=np.float64))
    values = series.to_numpy(dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"thetas must be a non-empty one-dimensional array, got shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"thetas must be finite; examinee {series.index[bad[0]]!r} (position {int(bad[0])}) has "
                         f"{values[bad[0]]!r}")
    if series.index.name is None:
        series.index.name = "examinee"
    return pd.Series(values, index=series.index, name="true_theta")


def _draw_responses(calibration: Calibration, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, J) category index of every examinee's answer to every item (inverse CDF)."""
    n_cat = calibration.n_categories
    out = np.empty((theta.size, calibration.n_items), dtype=np.int16)
    for start in range(0, theta.size, _DRAW_CHUNK):
        th = theta[start:start + _DRAW_CHUNK]
        cum = np.cumsum(calibration.probabilities(th), axis=2)            # (J, n, K)
        u = rng.random((calibration.n_items, th.size, 1))
        index = np.minimum((cum < u).sum(axis=2), (n_cat - 1)[:, None])
        out[start:start + th.size] = index.T
    return out


def run_engine(design: Design, theta: np.ndarray, rng: np.random.Generator, *,
               shadow_milp: bool = False) -> Engine:
    """The engine after every examinee's test (one loop over test positions, none over examinees)."""
    responses = _draw_responses(design.calibration, theta, rng)
    engine = Engine(design, theta.size, rng, shadow_milp=shadow_milp)
    with single_threaded_blas():
        for _ in range(design.stop.max_items):
            rows = engine.active()
            if rows.size == 0:
                break
            items = engine.select(rows)
            none = items < 0
            if none.any():
                engine.exhaust(rows[none])
                rows, items = rows[~none], items[~none]
            if rows.size:
                engine.record(rows, items, responses[rows, items].astype(np.int64))
    return engine


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Simulated adaptive tests of many examinees.

    Attributes
    ----------
    true_theta, theta, se : Series
        Per examinee: the generating value, the final estimate (by ``scoring``) and its SE.
    length : Series
        Items given to each examinee.
    stop_reason : Series
        ``"se"``, ``"max_items"``, ``"classification"`` or ``"exhausted"``.
    classification : Series or None
        ``"pass"``/``"fail"`` when a ``cut`` was given.
    items : ndarray
        (examinees, max_items) positions in :attr:`item_ids` of the items given, -1 after the end.
    responses : ndarray
        (examinees, max_items) response codes to those items, NaN after the end.
    item_ids : list of str
    exposure : Series
        Per item, the share of examinees who were given it.
    selection_rate : Series
        Per item, the share of examinees for whom it was selected (given, or set aside by
        Sympson-Hetter exposure control).
    item_area : Series or None
        Per item, its content area.
    content_target : dict or None
    options : dict
        The settings of the design.
    theta_history, se_history : ndarray
        (examinees, max_items) interim EAP estimate and SE after each item, NaN after the end.
    """

    true_theta: pd.Series
    theta: pd.Series
    se: pd.Series
    length: pd.Series
    stop_reason: pd.Series
    classification: pd.Series | None
    items: np.ndarray
    responses: np.ndarray
    item_ids: list[str]
    exposure: pd.Series
    selection_rate: pd.Series
    item_area: pd.Series | None
    content_target: dict[str, float] | None
    options: dict[str, Any]
    theta_history: np.ndarray = field(repr=False)
    se_history: np.ndarray = field(repr=False)

    # ------------------------------------------------------------------------------ statistics
    @property
    def n_examinees(self) -> int:
        return int(self.true_theta.size)

    @property
    def bias(self) -> float:
        r"""Mean of :math:`\hat\theta - \theta`."""
        return float(np.mean(self.theta - self.true_theta))

    @property
    def rmse(self) -> float:
        r""":math:`\sqrt{\overline{(\hat\theta - \theta)^2}}`."""
        return float(np.sqrt(np.mean((self.theta - self.true_theta) ** 2)))

    @property
    def mean_se(self) -> float:
        return float(self.se.mean())

    @property
    def mean_length(self) -> float:
        return float(self.length.mean())

    @property
    def max_length(self) -> int:
        return int(self.length.max())

    @property
    def max_exposure(self) -> float:
        return float(self.exposure.max())

    @property
    def unused_share(self) -> float:
        """Share of the pool's items given to nobody."""
        return float((self.exposure == 0).mean())

    @property
    def overlap(self) -> float:
        r"""Mean test overlap: the expected share of items two examinees have in common,
        :math:`\frac{\sum_j c_j (c_j - 1)}{N (N - 1) \bar L}` with :math:`c_j` the examinees given
        item :math:`j` and :math:`\bar L` the mean test length (Chen, Ankenmann & Spray 2003;
        for fixed-length tests it is their :math:`T`)."""
        n = self.n_examinees
        if n < 2:
            return math.nan
        counts = self.exposure.to_numpy() * n
        return float((counts * (counts - 1.0)).sum() / (n * (n - 1.0) * self.mean_length))

    def conditional(self, bands: Sequence[float] = THETA_BANDS) -> pd.DataFrame:
        """Bias, RMSE, mean SE and mean length by band of the true theta (one row per band)."""
        band = pd.cut(self.true_theta, bins=list(bands), right=False)
        error = self.theta - self.true_theta
        frame = pd.DataFrame({"band": band, "error": error, "squared": error ** 2, "se": self.se,
                              "length": self.length, "true_theta": self.true_theta})
        grouped = frame.groupby("band", observed=False)
        out = pd.DataFrame({"n": grouped.size(), "mean_theta": grouped["true_theta"].mean(),
                            "bias": grouped["error"].mean(), "rmse": np.sqrt(grouped["squared"].mean()),
                            "mean_se": grouped["se"].mean(), "mean_length": grouped["length"].mean()})
        out.index = pd.Index([str(b) for b in out.index], name="theta_band")
        return out

    def content_proportions(self) -> pd.DataFrame | None:
        """Per content area: target proportion, observed share of all items given, and the
        mean, minimum and maximum count per examinee (None without areas)."""
        if self.item_area is None:
            return None
        areas = list(dict.fromkeys(self.item_area))
        area_index = pd.Series(range(len(areas)), index=areas)[self.item_area.to_numpy()].to_numpy()
        given = self.items >= 0
        per_area = np.zeros((self.n_examinees, len(areas)), dtype=np.int64)
        rows = np.nonzero(given)[0]
        np.add.at(per_area, (rows, area_index[self.items[given]]), 1)
        total = per_area.sum()
        target = self.content_target or {}
        return pd.DataFrame({"target": [target.get(a, math.nan) for a in areas],
                             "observed": per_area.sum(axis=0) / total,
                             "mean_count": per_area.mean(axis=0), "min_count": per_area.min(axis=0),
                             "max_count": per_area.max(axis=0)},
                            index=pd.Index(areas, name="area"))

    def statistics(self) -> dict[str, float]:
        """The summary numbers, unrounded."""
        out = {"n_examinees": self.n_examinees, "bias": self.bias, "rmse": self.rmse, "mean_se": self.mean_se,
               "mean_length": self.mean_length, "max_length": self.max_length,
               "min_length": int(self.length.min()), "max_exposure": self.max_exposure,
               "unused_share": self.unused_share, "overlap": self.overlap,
               "correlation": float(np.corrcoef(self.theta, self.true_theta)[0, 1])
               if self.n_examinees > 1 else math.nan}
        if self.classification is not None:
            cut = self.options["stop"]["cut"]
            truth = np.where(self.true_theta >= cut, "pass", "fail")
            out["classification_accuracy"] = float((self.classification.to_numpy() == truth).mean())
            out["classified_by_rule"] = float((self.stop_reason == "classification").mean())
        return out

    # ------------------------------------------------------------------------------ presentation
    def to_frame(self) -> pd.DataFrame:
        """One row per examinee: ``true_theta``, ``theta``, ``se``, ``error``, ``length``,
        ``stop_reason`` (+ ``classification``) and ``items`` (ids given, in order, as a list)."""
        frame = pd.DataFrame({"true_theta": self.true_theta, "theta": self.theta, "se": self.se,
                              "error": self.theta - self.true_theta, "length": self.length,
                              "stop_reason": self.stop_reason})
        if self.classification is not None:
            frame["classification"] = self.classification
        ids = np.asarray(self.item_ids, dtype=object)
        frame["items"] = [list(ids[row[row >= 0]]) for row in self.items]
        return frame

    def summary(self) -> str:
        """A short report for people (numbers rounded here only)."""
        s = self.statistics()
        o = self.options
        stop = o["stop"]
        rule = ", ".join(f"{k} {stop[k]}" for k in ("se", "min_items", "max_items", "cut") if stop.get(k) is not None)
        lines = [
            f"Simulated CAT: {s['n_examinees']} examinees, {len(self.item_ids)} items, selection {o['selection']}, "
            f"scoring {o['scoring']}, stop ({rule})",
            f"bias {s['bias']:.3f}, RMSE {s['rmse']:.3f}, mean SE {s['mean_se']:.3f}, "
            f"r(theta, estimate) {s['correlation']:.3f}",
            f"test length mean {s['mean_length']:.2f}, min {s['min_length']}, max {s['max_length']}",
            f"exposure max {s['max_exposure']:.3f}, unused items {100 * s['unused_share']:.1f}%, "
            f"test overlap {s['overlap']:.3f}",
        ]
        if "classification_accuracy" in s:
            lines.append(f"classification accuracy {s['classification_accuracy']:.3f} (cut {stop['cut']}), "
                         f"{100 * s['classified_by_rule']:.1f}% decided by the classification rule")
        lines += ["", "by true theta:", self.conditional().round(3).to_string()]
        content = self.content_proportions()
        if content is not None:
            lines += ["", "content areas:", content.round(3).to_string()]
        return "\n".join(lines)


def simulate(bank: ItemBank | Calibration, thetas: Any, *, selection: str = "mfi", exposure: Any = None,
             content: Mapping[str, float] | None = None, stop: Mapping[str, Any] | StopRule | None = None,
             scoring: str = "eap", start_theta: float = 0.0, cut: float | None = None,
             seed: int | np.random.Generator | None = None, attributes: Any = None, content_column: str | None = None,
             enemies: Sequence[Sequence[str]] | None = None) -> SimulationResult:
    """Simulate adaptive tests of examinees with known theta.

    Parameters
    ----------
    bank : ItemBank or Calibration
        The item pool.
    thetas : array-like or Series
        True theta of each examinee (a Series keeps its index as examinee ids).
    selection, exposure, content, stop, scoring, start_theta, cut, attributes, content_column, enemies
        As for :class:`~psychometrics.cat.Session`.
    seed : int or Generator, optional
        Seed of the simulated answers and of the random choices.

    Returns
    -------
    SimulationResult

    Notes
    -----
    Answers are drawn once per examinee and item by inverse-CDF sampling; the engine then
    advances all examinees still testing by one item at a time (selection and EAP updates are
    matrix operations across examinees). Only ``selection="shadow"`` solves one mixed-integer
    program per examinee and step.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from psychometrics.irt import Calibration
    >>> rng = np.random.default_rng(0)
    >>> params = pd.DataFrame({"a": rng.uniform(1, 2, 50), "b": rng.normal(0, 1, 50)},
    ...                       index=[f"q{j}" for j in range(50)])
    >>> result = simulate(Calibration.from_item_params(params, "2pl"), rng.standard_normal(200),
    ...                   stop={"se": 0.4, "max_items": 20}, seed=1)
    >>> result.mean_se < 0.4
    True
    """
    design = build_design(bank, selection=selection, exposure=exposure, content=content, stop=stop,
                          scoring=scoring, start_theta=start_theta, cut=cut, attributes=attributes,
                          content_column=content_column, enemies=enemies)
    truth = _true_thetas(thetas)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    engine = run_engine(design, truth.to_numpy(), rng)
    return _result(design, truth, engine)


def _response_codes(design: Design, engine: Engine) -> np.ndarray:
    """(examinees, max_items) response codes of the items given (NaN for none)."""
    code_table = np.full((design.n_items, int(design.calibration.n_categories.max())), np.nan)
    for j, item in enumerate(design.item_ids):
        codes = design.calibration.categories[item]
        code_table[j, :len(codes)] = codes
    out = np.full(engine.items.shape, np.nan)
    answered = (engine.items >= 0) & (engine.codes >= 0)
    out[answered] = code_table[engine.items[answered], engine.codes[answered]]
    return out


def _final_scores(design: Design, engine: Engine, responses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if design.scoring == "eap":
        return engine.theta.copy(), engine.se.copy()
    from psychometrics.scoring import score

    values = np.full((engine.n, design.n_items), np.nan)
    rows, cols = np.nonzero(engine.items >= 0)
    values[rows, engine.items[rows, cols]] = responses[rows, cols]
    result = score(design.calibration, pd.DataFrame(values, columns=design.item_ids), method=design.scoring)
    return result["theta"].to_numpy(), result["se"].to_numpy()


def _result(design: Design, truth: pd.Series, engine: Engine) -> SimulationResult:
    index = truth.index
    responses = _response_codes(design, engine)
    theta, se = _final_scores(design, engine, responses)
    counts = np.bincount(engine.items[engine.items >= 0], minlength=design.n_items)
    exposure = pd.Series(counts / engine.n, index=pd.Index(design.item_ids, name="item"), name="exposure")
    if design.exposure_kind == "sympson-hetter":
        selected = engine.selected_count / engine.n
    else:
        selected = counts / engine.n
    classification = None
    if engine.classification is not None:
        classification = pd.Series(engine.classification.astype(str), index=index, name="classification")
    item_area = None
    if design.area_names:
        item_area = pd.Series([design.area_names[a] for a in design.item_area],
                              index=pd.Index(design.item_ids, name="item"), name="area")
    return SimulationResult(
        true_theta=truth, theta=pd.Series(theta, index=index, name="theta"),
        se=pd.Series(se, index=index, name="se"), length=pd.Series(engine.length, index=index, name="length"),
        stop_reason=pd.Series(engine.stop_reason.astype(str), index=index, name="stop_reason"),
        classification=classification, items=engine.items, responses=responses, item_ids=list(design.item_ids),
        exposure=exposure, selection_rate=pd.Series(selected, index=exposure.index, name="selection_rate"),
        item_area=item_area, content_target=design.content, options=design.options(),
        theta_history=engine.theta_history, se_history=engine.se_history)
