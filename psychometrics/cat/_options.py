"""The settings of an adaptive test, checked once: the item pool, stopping, content, exposure.

Everything a :class:`~psychometrics.cat.Session` and :func:`~psychometrics.cat.simulate` are
given passes through :func:`build_design`, which returns a :class:`Design`: the pool as one
:class:`~psychometrics.irt.Calibration` with the item arrays the engine works on, and the
validated rules. Internals trust a Design.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.bank import ItemBank
from psychometrics.irt import Calibration

__all__ = ["SELECTION_RULES", "SCORING_METHODS", "StopRule", "Design", "build_design", "pool_calibration"]

SELECTION_RULES = ("mfi", "kl", "mpwi", "mepv", "progressive", "random", "shadow")
#: Methods of the reported score; the interim estimate that drives selection is always EAP.
SCORING_METHODS = ("eap", "map", "wle", "ml")
CLASSIFICATION_METHODS = ("ci", "sprt")
#: Items considered by ``exposure="randomesque"`` without a number (Kingsbury & Zara 1989).
DEFAULT_RANDOMESQUE = 5
_STOP_KEYS = ("se", "min_items", "max_items", "classification", "alpha", "beta", "indifference")


@dataclass(frozen=True)
class StopRule:
    """When an adaptive test ends.

    The test ends after ``max_items`` items; or, once ``min_items`` are given, as soon as the
    interim standard error is at most ``se``, or the examinee is classified against ``cut``.
    It also ends when no eligible item is left.

    Attributes
    ----------
    se : float or None
        Target standard error of the interim (EAP) estimate.
    min_items, max_items : int
        Test length bounds (``max_items`` is capped at the pool size).
    cut : float or None
        Cut score on the theta scale for pass/fail classification (given as ``cut=``).
    classification : {"ci", "sprt"}
        ``"ci"``: stop when the ``1 - alpha`` confidence interval
        :math:`\\hat\\theta \\pm z_{1-\\alpha/2} SE` excludes the cut (Kingsbury & Weiss 1983).
        ``"sprt"``: Wald's sequential probability ratio test of
        :math:`\\theta = cut + \\delta` against :math:`\\theta = cut - \\delta` (Reckase 1983;
        Eggen 1999) with error rates ``alpha`` and ``beta`` and ``delta = indifference``.
    """

    se: float | None = None
    min_items: int = 1
    max_items: int = 30
    cut: float | None = None
    classification: str = "ci"
    alpha: float = 0.05
    beta: float = 0.05
    indifference: float = 0.2

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain values, ``cut`` included."""
        return {"cut": self.cut, **{name: getattr(self, name) for name in _STOP_KEYS}}


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"stop: {name} must be a positive integer, got {value!r}")
    return int(value)


def _probability(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"stop: {name} must be a number in (0, 0.5), got {value!r}") from None
    if not 0.0 < number < 0.5:
        raise ValueError(f"stop: {name} must be in (0, 0.5), got {value!r}")
    return number


def parse_stop(stop: Mapping[str, Any] | StopRule | None, n_items: int, cut: float | None = None) -> StopRule:
    """A checked :class:`StopRule` from ``stop=`` (a dict with the keys of StopRule but ``cut``)
    and ``cut=``."""
    if stop is None:
        stop = {}
    if isinstance(stop, StopRule):
        rule = stop.to_dict()
        if rule.pop("cut") is not None:
            if cut is not None and cut != stop.cut:
                raise ValueError(f"cut={cut!r} differs from the StopRule's cut {stop.cut!r}; give one")
            cut = stop.cut
        stop = rule
    if isinstance(stop, Mapping) and "cut" in stop:
        raise ValueError("give the cut score as cut=..., not inside stop")
    if not isinstance(stop, Mapping):
        raise TypeError(f"stop must be a dict such as {{'se': 0.3, 'max_items': 30}}, got {type(stop).__name__}")
    unknown = [k for k in stop if k not in _STOP_KEYS]
    if unknown:
        raise ValueError(f"stop: unknown key(s) {unknown}; known: {', '.join(_STOP_KEYS)}")
    se = stop.get("se")
    if se is not None:
        try:
            se = float(se)
        except (TypeError, ValueError):
            raise ValueError(f"stop: se must be a positive number, got {se!r}") from None
        if not (math.isfinite(se) and se > 0):
            raise ValueError(f"stop: se must be a positive number, got {se!r}")
    max_items = min(_positive_int(stop.get("max_items", min(30, n_items)), "max_items"), n_items)
    min_items = _positive_int(stop.get("min_items", 1), "min_items")
    if min_items > max_items:
        raise ValueError(f"stop: min_items ({min_items}) exceeds max_items ({max_items}, capped at the "
                         f"{n_items} items of the pool)")
    if cut is not None:
        given = cut
        try:
            cut = float(cut)
        except (TypeError, ValueError):
            cut = math.nan
        if not math.isfinite(cut):
            raise ValueError(f"cut must be a finite theta, got {given!r}")
    method = stop.get("classification", "ci")
    if method not in CLASSIFICATION_METHODS:
        raise ValueError(f"stop: classification must be 'ci' or 'sprt', got {method!r}")
    indifference = float(stop.get("indifference", 0.2))
    if not (math.isfinite(indifference) and indifference > 0):
        raise ValueError(f"stop: indifference must be a positive number, got {stop.get('indifference')!r}")
    return StopRule(se=se, min_items=min_items, max_items=max_items, cut=cut, classification=method,
                    alpha=_probability(stop.get("alpha", 0.05), "alpha"),
                    beta=_probability(stop.get("beta", 0.05), "beta"), indifference=indifference)


# ------------------------------------------------------------------------------------------- pool

def pool_calibration(bank: ItemBank | Calibration) -> tuple[Calibration, dict[str, str] | None]:
    """One calibration of every item of a bank, and item -> scale (None for a Calibration).

    The scales of an :class:`~psychometrics.bank.ItemBank` become content areas of one
    unidimensional pool, so their calibrations must share the latent scale (same latent mean
    and variance); for a CAT on a single scale pass ``bank.scales[name]``.
    """
    if isinstance(bank, Calibration):
        if bank.is_multigroup:
            raise ValueError("a multi-group calibration has no single item pool; use calibration.for_group(name)")
        return bank, None
    if not isinstance(bank, ItemBank):
        raise TypeError(f"expected an ItemBank or a Calibration, got {type(bank).__name__}")
    scales = list(bank.scales.items())
    if len(scales) == 1:
        name, cal = scales[0]
        return cal, {item: name for item in cal.item_ids}
    first_name, first = scales[0]
    area: dict[str, str] = {}
    for name, cal in scales:
        if not (math.isclose(float(cal.latent_mean), float(first.latent_mean), abs_tol=1e-9)
                and math.isclose(float(cal.latent_variance), float(first.latent_variance), rel_tol=1e-9)):
            raise ValueError(f"scale '{name}' has latent mean {float(cal.latent_mean):g} and variance "
                             f"{float(cal.latent_variance):g}, scale '{first_name}' {float(first.latent_mean):g} and "
                             f"{float(first.latent_variance):g}: the scales are not on one metric, so they cannot "
                             "form one adaptive pool (run a CAT per scale: bank.scales[name])")
        for item in cal.item_ids:
            if item in area:
                raise ValueError(f"item '{item}' is in scales '{area[item]}' and '{name}'; a pool needs unique ids")
            area[item] = name
    item_ids = list(area)
    models: dict[str, str] = {}
    categories: dict[str, tuple[int, ...]] = {}
    for _, cal in scales:
        models.update(cal.models)
        categories.update(cal.categories)
    item_params = pd.concat([cal.item_params for _, cal in scales], axis=0, sort=False)
    slope_intercept = pd.concat([cal.slope_intercept for _, cal in scales], axis=0, sort=False)
    pooled = Calibration(item_ids=item_ids, models=models, categories=categories,
                         item_params=item_params.reindex(item_ids), slope_intercept=slope_intercept.reindex(item_ids),
                         latent_mean=float(first.latent_mean), latent_variance=float(first.latent_variance),
                         quadrature_points=first.quadrature_points)
    return pooled, area


def _areas_from_attributes(attributes: Any, content_column: str | None,
                           item_ids: list[str]) -> dict[str, str]:
    if isinstance(attributes, pd.DataFrame):
        if content_column is None:
            if attributes.shape[1] != 1:
                raise ValueError(f"attributes has columns {list(attributes.columns)}; name the one that holds "
                                 "content areas with content_column=")
            content_column = attributes.columns[0]
        if content_column not in attributes.columns:
            raise ValueError(f"content_column {content_column!r} is not a column of attributes "
                             f"({list(attributes.columns)})")
        series = attributes[content_column]
    elif isinstance(attributes, pd.Series):
        series = attributes
    else:
        raise TypeError(f"attributes must be a DataFrame or Series indexed by item id, got {type(attributes).__name__}")
    series = series.copy()
    series.index = [str(i) for i in series.index]
    if series.index.has_duplicates:
        raise ValueError(f"attributes: item '{series.index[series.index.duplicated()][0]}' appears twice")
    missing = [i for i in item_ids if i not in series.index]
    if missing:
        raise ValueError(f"attributes: item(s) {missing[:5]} of the pool have no row (attributes is indexed by item id)")
    values = series.reindex(item_ids)
    empty = values.index[values.isna()]
    if len(empty):
        raise ValueError(f"attributes: item '{empty[0]}' has no content area (NaN); every item needs one")
    return {item: str(values[item]) for item in item_ids}


# ------------------------------------------------------------------------------------------ design

@dataclass(frozen=True, eq=False)
class Design:
    """Everything fixed for the length of a test: the pool and the rules (checked)."""

    calibration: Calibration
    item_ids: list[str]
    selection: str
    scoring: str
    start_theta: float
    stop: StopRule
    area_names: list[str]                      # content areas (empty without areas)
    item_area: np.ndarray                      # (J,) area index of each item, -1 without areas
    content: dict[str, float] | None           # area -> target proportion
    area_counts: np.ndarray | None             # (A,) exact item counts of a full-length shadow test
    enemies: list[list[str]]
    enemy_matrix: np.ndarray | None            # (J, J) True where two items are enemies
    exposure_kind: str | None                  # None, "randomesque", "sympson-hetter"
    randomesque: int
    exposure_probability: np.ndarray | None    # (J,) Sympson-Hetter parameters
    areas: dict[str, str] | None = None
    position: dict[str, int] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def options(self) -> dict[str, Any]:
        """The settings as plain JSON values (what :meth:`Session.to_json` stores)."""
        exposure: Any = None
        if self.exposure_kind == "randomesque":
            exposure = {"randomesque": self.randomesque}
        elif self.exposure_kind == "sympson-hetter":
            exposure = {"sympson_hetter": dict(zip(self.item_ids, map(float, self.exposure_probability)))}
        return {"selection": self.selection, "scoring": self.scoring, "start_theta": self.start_theta,
                "stop": self.stop.to_dict(), "content": self.content, "areas": self.areas,
                "enemies": self.enemies, "exposure": exposure}

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the pool (item ids, models, categories, parameters, latent distribution): a
        resumed session checks it has the same bank. Parameters survive the calibration's JSON
        exactly, so an embedded pool has the fingerprint of the original."""
        cal = self.calibration
        digest = hashlib.sha256(json.dumps(
            [list(cal.item_ids), cal.models, {k: list(v) for k, v in cal.categories.items()},
             [str(c) for c in cal.slope_intercept.columns], float(cal.latent_mean), float(cal.latent_variance)]
        ).encode())
        values = cal.slope_intercept.reindex(list(cal.item_ids)).to_numpy(dtype=np.float64)
        # one NaN bit pattern, whatever produced the missing parameters
        digest.update(np.where(np.isnan(values), np.inf, values).tobytes())
        return digest.hexdigest()


def _parse_exposure(exposure: Any, item_ids: list[str]) -> tuple[str | None, int, np.ndarray | None]:
    if exposure is None:
        return None, DEFAULT_RANDOMESQUE, None
    if isinstance(exposure, str):
        if exposure == "randomesque":
            return "randomesque", DEFAULT_RANDOMESQUE, None
        raise ValueError(f"exposure must be 'randomesque', {{'randomesque': k}}, or Sympson-Hetter parameters "
                         f"(cat.exposure_parameters), got {exposure!r}")
    parameters = getattr(exposure, "parameters", None)
    if isinstance(parameters, pd.Series):
        exposure = {"sympson_hetter": parameters}
    if isinstance(exposure, pd.Series):
        exposure = {"sympson_hetter": exposure}
    if isinstance(exposure, Mapping) and len(exposure) == 1 and "randomesque" in exposure:
        k = exposure["randomesque"]
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"exposure: randomesque needs a positive number of items, got {k!r}")
        return "randomesque", int(k), None
    if isinstance(exposure, Mapping) and len(exposure) == 1 and "sympson_hetter" in exposure:
        values = pd.Series(exposure["sympson_hetter"], dtype=np.float64)
        values.index = [str(i) for i in values.index]
        missing = [i for i in item_ids if i not in values.index]
        if missing:
            raise ValueError(f"exposure: Sympson-Hetter parameters lack item(s) {missing[:5]}")
        probability = values.reindex(item_ids).to_numpy()
        bad = np.flatnonzero(~((probability >= 0) & (probability <= 1)))
        if bad.size:
            raise ValueError(f"exposure: Sympson-Hetter parameter of item '{item_ids[bad[0]]}' is "
                             f"{probability[bad[0]]!r}; it must be a probability in [0, 1]")
        return "sympson-hetter", DEFAULT_RANDOMESQUE, probability
    raise ValueError("exposure must be None, 'randomesque', {'randomesque': k}, or Sympson-Hetter parameters "
                     f"(from cat.exposure_parameters), got {exposure!r}")


def _shadow_counts(content: dict[str, float], area_names: list[str], length: int) -> np.ndarray:
    """Integer area counts summing to ``length`` closest to the proportions (largest remainder)."""
    target = np.array([content.get(a, 0.0) for a in area_names]) * length
    counts = np.floor(target + 1e-9).astype(np.int64)
    remainder = target - counts
    for a in np.argsort(-remainder, kind="stable")[: length - int(counts.sum())]:
        counts[a] += 1
    return counts


def build_design(bank: ItemBank | Calibration, *, selection: str = "mfi", exposure: Any = None,
                 content: Mapping[str, float] | None = None, stop: Mapping[str, Any] | StopRule | None = None,
                 scoring: str = "eap", start_theta: float = 0.0, cut: float | None = None,
                 attributes: Any = None, content_column: str | None = None,
                 enemies: Sequence[Sequence[str]] | None = None,
                 areas: Mapping[str, str] | None = None) -> Design:
    """Check every setting of an adaptive test (see :class:`~psychometrics.cat.Session`)."""
    calibration, bank_areas = pool_calibration(bank)
    item_ids = [str(i) for i in calibration.item_ids]
    if selection not in SELECTION_RULES:
        raise ValueError(f"selection must be one of {', '.join(SELECTION_RULES)}, got {selection!r}")
    if not isinstance(scoring, str) or scoring.lower() not in SCORING_METHODS:
        raise ValueError(f"scoring must be one of {', '.join(SCORING_METHODS)}, got {scoring!r}")
    try:
        start_theta = float(start_theta)
    except (TypeError, ValueError):
        raise ValueError(f"start_theta must be a finite number, got {start_theta!r}") from None
    if not math.isfinite(start_theta):
        raise ValueError(f"start_theta must be a finite number, got {start_theta!r}")
    stop_rule = parse_stop(stop, len(item_ids), cut)

    if areas is not None:
        item_area_map = {str(k): str(v) for k, v in areas.items()}
    elif attributes is not None:
        item_area_map = _areas_from_attributes(attributes, content_column, item_ids)
    else:
        item_area_map = bank_areas
    area_names: list[str] = []
    item_area = np.full(len(item_ids), -1, dtype=np.int64)
    if item_area_map is not None:
        area_names = list(dict.fromkeys(item_area_map[i] for i in item_ids))
        item_area = np.array([area_names.index(item_area_map[i]) for i in item_ids], dtype=np.int64)

    targets = None
    area_counts = None
    if content is not None:
        if item_area_map is None:
            raise ValueError("content= needs content areas: an ItemBank (its scales) or attributes= with a "
                             "column of areas per item")
        if not isinstance(content, Mapping) or not content:
            raise TypeError("content must be a dict of area -> proportion, e.g. {'communication': 0.5, ...}")
        targets = {}
        for name, value in content.items():
            if str(name) not in area_names:
                raise ValueError(f"content: area {name!r} has no items; the areas are {', '.join(area_names)}")
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"content: proportion of area {name!r} must be in [0, 1], got {value!r}")
            targets[str(name)] = value
        total = sum(targets.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"content: the proportions sum to {total:g}; they must sum to 1 (areas left out "
                             "are never administered)")
        area_counts = _shadow_counts(targets, area_names, stop_rule.max_items)
        sizes = np.bincount(item_area, minlength=len(area_names))
        short = np.flatnonzero(area_counts > sizes)
        if short.size:
            a = short[0]
            raise ValueError(f"content: area '{area_names[a]}' needs {area_counts[a]} of {stop_rule.max_items} items "
                             f"but has only {sizes[a]}")

    position = {item: j for j, item in enumerate(item_ids)}
    enemy_lists: list[list[str]] = []
    enemy_matrix = None
    if enemies:
        enemy_matrix = np.zeros((len(item_ids), len(item_ids)), dtype=bool)
        for k, group in enumerate(enemies):
            if isinstance(group, str) or len(group) < 2:
                raise ValueError(f"enemies: set {k} must list at least two item ids, got {group!r}")
            names = [str(i) for i in group]
            unknown = [i for i in names if i not in position]
            if unknown:
                raise ValueError(f"enemies: set {k} names item(s) {unknown} that are not in the pool")
            cols = [position[i] for i in names]
            enemy_matrix[np.ix_(cols, cols)] = True
            enemy_lists.append(names)
        np.fill_diagonal(enemy_matrix, False)
    kind, k, probability = _parse_exposure(exposure, item_ids)
    return Design(calibration=calibration, item_ids=item_ids, selection=selection, scoring=scoring.lower(),
                  start_theta=start_theta, stop=stop_rule, area_names=area_names, item_area=item_area,
                  content=targets, area_counts=area_counts, enemies=enemy_lists, enemy_matrix=enemy_matrix,
                  exposure_kind=kind, randomesque=k, exposure_probability=probability,
                  areas=item_area_map, position=position)
