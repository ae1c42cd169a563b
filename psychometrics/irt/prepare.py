"""Problem setup: responses -> category codes and encoded matrix, priors, groups, freed and
fixed parameters. Everything here runs once, before the EM loop, and checks the caller's
settings against the data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.data import Responses, align_labels, category_index
from psychometrics.errors import ModelWarning, ResponseError
from psychometrics.groups import MIN_GROUP_SIZE, resolve_groups
from psychometrics.items import ItemModel, get_model


def _model_mapping(model: str | Mapping[str, str], item_ids: Sequence[str]) -> dict[str, str]:
    if isinstance(model, str):
        name = get_model(model).name
        return {i: name for i in item_ids}
    if not isinstance(model, Mapping):
        raise TypeError(f"model must be a model name or a mapping item -> model name, got {type(model).__name__}")
    missing = [i for i in item_ids if i not in model]
    if missing:
        raise ValueError(f"model mapping has no entry for item(s) {missing}")
    extra = [str(i) for i in model if str(i) not in set(item_ids)]
    if extra:
        raise ValueError(f"model mapping names item(s) {extra} that are not in the data")
    return {i: get_model(model[i]).name for i in item_ids}


def _fixed_names(m: ItemModel, k: int, form: str) -> dict[str, float]:
    """Parameters the model fixes, under their names in ``form``; IRT names are paired with
    slope-intercept names only where both forms have the same length (one to one)."""
    si_names = m.parameter_names(k)
    if form != "irt":
        return {n: float(m.fixed_values[n]) for n in si_names if n in m.fixed_values}
    irt_names = m.irt_parameter_names(k)
    if len(irt_names) != len(si_names):
        return {}
    return {n: float(m.fixed_values[si]) for n, si in zip(irt_names, si_names) if si in m.fixed_values}


def _infer_categories(m: ItemModel, present: set[str], form: str, item: str) -> int:
    names_of = m.irt_parameter_names if form == "irt" else m.parameter_names
    best = None
    k = m.min_categories
    limit = m.max_categories if m.max_categories is not None else 200
    while k <= limit:
        names = names_of(k)
        fixed_irt = _fixed_names(m, k, form)
        if all(n in present or n in fixed_irt for n in names):
            best = k
        elif best is not None:
            break
        k += 1
    if best is None:
        raise ValueError(f"item {item!r}: the parameters given ({sorted(present)}) do not describe a "
                         f"{m.name!r} item in {form} form (expected e.g. {names_of(m.min_categories)})")
    return best


def _category_codes(categories: Any, item: str, k: int) -> tuple[int, ...]:
    if categories is None:
        return tuple(range(k))
    codes = categories.get(item) if isinstance(categories, Mapping) else categories
    if codes is None:
        return tuple(range(k))
    codes = tuple(int(c) for c in codes)
    if len(codes) != k or len(set(codes)) != k:
        raise ValueError(f"item {item!r} has {k} categories but categories {codes} were given")
    return codes


_PRIOR_KINDS = {"normal": 1, "lognormal": 2, "beta": 3}
#: Columns of :attr:`Calibration.priors`.
PRIOR_COLUMNS = ["item", "parameter", "kind", "p1", "p2", "source"]


def _parse_priors(priors: Mapping[str, Any] | None, item_ids: Sequence[str]) -> dict[str, dict[str, tuple | None]]:
    """item -> {parameter name or prefix -> (kind, p1, p2), or None for "no prior"}.

    ``None`` as a spec means no prior, not even a model's default one
    (:meth:`~psychometrics.items.base.ItemModel.default_priors`).
    """
    if not priors:
        return {}
    per_item: dict[str, dict[str, tuple | None]] = {i: {} for i in item_ids}

    def check(spec: Any, where: str) -> tuple | None:
        if spec is None:
            return None
        if (not isinstance(spec, (tuple, list)) or len(spec) != 3 or spec[0] not in _PRIOR_KINDS):
            raise ValueError(f"prior for {where} must be (kind, p1, p2) with kind one of "
                             f"{sorted(_PRIOR_KINDS)}, or None for none, got {spec!r}")
        kind, p1, p2 = spec[0], float(spec[1]), float(spec[2])
        if not p2 > 0 or (kind == "beta" and not p1 > 0):
            raise ValueError(f"prior for {where}: parameters {spec[1:]} are not valid for a {kind} prior")
        return (kind, p1, p2)

    items = set(item_ids)
    for key, spec in priors.items():
        if key in items and isinstance(spec, Mapping):
            for name, s in spec.items():
                per_item[key][name] = check(s, f"item {key!r}, parameter {name!r}")
        else:
            checked = check(spec, f"parameter {key!r}")
            for i in item_ids:
                per_item[i].setdefault(key, checked)
    return per_item


def _prior_key_matches(name: str, key: str) -> bool:
    # "d" also covers d1, d2, ... (all intercepts of a polytomous item), "ak" ak1, ak2, ...
    return name == key or (name.startswith(key) and name[len(key):].isdigit() and key[-1:].isalpha())


def _prior_arrays(names: list[str], items: list[str], per_item: Mapping[str, Mapping[str, tuple | None]],
                 matched: set[tuple[str, str]] | None = None):
    """Prior kind and parameters per (item, slope-intercept parameter); ``matched`` collects
    the (item, key) pairs that applied to some parameter."""
    kind = np.zeros((len(items), len(names)), dtype=np.int64)
    p1 = np.zeros(kind.shape)
    p2 = np.ones(kind.shape)
    for r, item in enumerate(items):
        for key, spec in per_item.get(item, {}).items():
            for c, name in enumerate(names):
                if _prior_key_matches(name, key):
                    if spec is not None:
                        kind[r, c], p1[r, c], p2[r, c] = _PRIOR_KINDS[spec[0]], spec[1], spec[2]
                    if matched is not None:
                        matched.add((item, key))
    return kind, p1, p2


def _default_priors(m: ItemModel, k: int, names: list[str], items: list[str],
                    per_item: Mapping[str, Mapping[str, tuple | None]],
                    prior: tuple[np.ndarray, np.ndarray, np.ndarray]):
    """The model's default priors (:meth:`ItemModel.default_priors`) added to ``prior`` for the
    parameters the caller gave no prior (and no ``None``) for; returns the new arrays and the
    rows ``(item, parameter, kind, p1, p2)`` that were added."""
    defaults = m.default_priors(k)
    if not defaults:
        return prior, []
    kind, p1, p2 = (a.copy() for a in prior)
    added: list[tuple[str, str, str, float, float]] = []
    columns = [(c, name, defaults[name]) for c, name in enumerate(names) if name in defaults]
    for r, item in enumerate(items):
        given = list(per_item.get(item, {}))
        for c, name, (dist, a, b) in columns:
            if not any(_prior_key_matches(name, key) for key in given):
                kind[r, c], p1[r, c], p2[r, c] = _PRIOR_KINDS[dist], a, b
                added.append((item, name, dist, float(a), float(b)))
    return (kind, p1, p2), added


def _priors_in_effect(blocks: Sequence[Any], column_labels: Sequence[tuple[str, Any]],
                      defaults: Sequence[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    """Every prior of a calibration's blocks as :attr:`Calibration.priors` lists them."""
    names_of = {v: k for k, v in _PRIOR_KINDS.items()}
    default_keys = {(item, name) for item, name, *_ in defaults}
    rows = []
    for b in blocks:
        names = b.model.parameter_names(b.k)
        for r, c in zip(*np.nonzero(b.prior_kind)):
            item = column_labels[b.positions[r]][0]
            rows.append((item, names[c], names_of[int(b.prior_kind[r, c])], float(b.prior_p1[r, c]),
                         float(b.prior_p2[r, c]), "default" if (item, names[c]) in default_keys else "given"))
    frame = pd.DataFrame(rows, columns=PRIOR_COLUMNS)
    return frame.drop_duplicates(["item", "parameter"], ignore_index=True)


def _check_priors_applied(priors: Mapping[str, Any] | None, item_ids: Sequence[str],
                          matched: set[tuple[str, str]]) -> None:
    """A prior that applies to no parameter is a typo (e.g. "c" for guessing, or an IRT-form
    name such as "b"): say so instead of calibrating without it."""
    if not priors:
        return
    items = set(item_ids)
    unused: list[str] = []
    for key, spec in priors.items():
        if key in items and isinstance(spec, Mapping):
            unused += [f"item {key!r}, parameter {name!r}" for name in spec if (key, name) not in matched]
        elif not any(name == key for _, name in matched):
            unused.append(f"parameter {key!r}")
    if unused:
        raise ValueError(f"prior(s) for {'; '.join(unused)} match no parameter of the calibrated items; "
                         "priors use slope-intercept names: a1 (slopes), d or d1, d2, ... (intercepts), "
                         "ak or ak1, ak2, ... (nominal category scores), g (lower asymptote), "
                         "u (upper asymptote)")


def _prepare(resp: Responses, models: Mapping[str, str],
             stated: Mapping[str, tuple[int, ...]] | None = None):
    """Category codes per item (collapsing unused ones), encoded matrix, dropped persons.

    ``stated`` gives the codes of items whose categories are already known (anchor items held
    at bank values): they are kept even when some are unused in these data.
    """
    values = resp.values
    item_ids = resp.item_ids
    from psychometrics import _fastscan

    large = values.size >= _fastscan.SETUP_FAST_FROM   # compiled single passes
    if large:
        seen = _fastscan.distinct_values(values)
    else:
        seen = [_fastscan.distinct_small_integers(col) for col in values.T]
    # messages name the column of the file, not the position inside the calibrated subset
    columns = [resp.column_of(item) for item in item_ids]
    categories = _discover_categories(item_ids, seen, resp.categories, models, stated, columns)
    encoded = np.full(values.shape, -1, dtype=np.int8 if max(map(len, categories.values())) < 127 else np.int32)
    if large and _fastscan.category_indices(values, [categories[item] for item in item_ids], range(len(item_ids)),
                                            encoded):
        return categories, encoded
    encoded[:] = -1
    for j, item in enumerate(item_ids):
        encoded[:, j] = category_index(values[:, j], categories[item], item=item, position=columns[j],
                                       person_ids=resp.person_ids)[0]
    return categories, encoded


def _discover_categories(item_ids: Sequence[str], distinct: Sequence[np.ndarray],
                         admissible_codes: Mapping[str, Sequence[int]], models: Mapping[str, str],
                         stated: Mapping[str, tuple[int, ...]] | None = None,
                         columns: Sequence[int] | None = None) -> dict[str, tuple[int, ...]]:
    """Category codes per item from the distinct values observed (sorted, per item), with the
    checks of a calibration: no empty, constant or non-integer item, no code outside the
    admissible ones; unused admissible codes are collapsed with a warning. Only the distinct
    values are needed, so partitions of the data can be scanned separately and their values
    united (:mod:`psychometrics.distributed`). ``columns`` gives each item's column in the
    source file for the messages (default: its position in ``item_ids``)."""
    categories: dict[str, tuple[int, ...]] = {}
    stated = stated or {}
    for position, item in enumerate(item_ids):
        seen = distinct[position]
        j = columns[position] if columns is not None else position
        if item in stated:
            codes = tuple(stated[item])
            outside = [v for v in seen if v not in codes]
            if outside:
                raise ResponseError(f"item {item!r} (column {j}): value {outside[0]:g} is not one of the "
                                    f"item's categories in the bank {codes}")
            categories[item] = codes
            continue
        if seen.size == 0:
            raise ResponseError(f"item {item!r} (column {j}) has no responses; remove it before calibrating")
        if seen.size == 1:
            raise ResponseError(f"item {item!r} (column {j}) is constant (every response is {seen[0]:g}); "
                                "it carries no information about the trait, remove it before calibrating")
        noninteger = seen[seen != np.round(seen)]
        if noninteger.size:
            raise ResponseError(f"item {item!r} (column {j}): value {noninteger[0]} is not an integer category code")
        codes = tuple(int(v) for v in seen)
        admissible = tuple(admissible_codes.get(item, codes))
        outside = [c for c in codes if c not in admissible]
        if outside:
            raise ResponseError(f"item {item!r} (column {j}): value {outside[0]} is outside the admissible "
                                f"categories {admissible}")
        unused = [c for c in admissible if c not in codes]
        if unused:
            warnings.warn(f"item {item!r}: category {', '.join(map(str, unused))} never used; collapsed, the "
                          f"item (column {j}) is calibrated with categories {codes}", ModelWarning, stacklevel=6)
        model = get_model(models[item])
        try:
            model.check_categories(len(codes))
        except ValueError as exc:
            raise ResponseError(f"item {item!r} (column {j}) has {len(codes)} observed categories {codes}: {exc}") from None
        categories[item] = codes
    return categories


def _collapse_patterns(encoded: np.ndarray, weights: np.ndarray | None, n_categories: np.ndarray):
    """Identical response patterns once, with their frequencies, when that surely pays."""
    n, j = encoded.shape
    possible = float(np.prod((n_categories + 1).astype(np.float64)))
    if possible >= n / 2:
        return encoded, weights
    patterns, inverse = np.unique(encoded, axis=0, return_inverse=True)
    w = np.ones(n) if weights is None else weights
    freq = np.bincount(inverse.reshape(-1), weights=w, minlength=patterns.shape[0])
    return patterns, freq


# MIN_GROUP_SIZE (imported above): one value for calibration, DIF and fairness.

_INVARIANCE_CLASSES = ("slopes", "intercepts")


_INVARIANCE_LATENT = ("free_means", "free_var")


def _group_labels(group: Any, resp: Responses, reference: Any, min_size: int) -> tuple[list[Any], np.ndarray]:
    """Ordered group labels (reference first) and each person's group index
    (:func:`psychometrics.groups.resolve_groups`: default reference the largest group, a tie
    going to the first level). Group sizes are checked later, on the persons who answered."""
    if isinstance(group, str):
        raise ResponseError(f"group {group!r} is not a column of the responses; pass the labels, one per person")
    series = align_labels(group, resp)
    spec = resolve_groups(series, resp.person_ids, reference=reference, what="a multi-group calibration")
    order = [spec.reference] + [g for g in range(len(spec.labels)) if g != spec.reference]
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    return [spec.labels[g] for g in order], position[spec.codes]


def _freed_parameters(item_ids: Sequence[str], models: Mapping[str, str], n_cat: np.ndarray,
                      invariance: Sequence[str] | None, free: Mapping[str, Sequence[str]] | None,
                      free_items: Sequence[str] | None, fixed: Mapping[str, Any]) -> dict[str, list[str]]:
    """Item -> the slope-intercept parameters estimated separately in every group."""
    items = set(item_ids)
    terms = list(_INVARIANCE_CLASSES) if invariance is None else [str(t) for t in invariance]
    unknown = [t for t in terms if t not in _INVARIANCE_CLASSES and t not in _INVARIANCE_LATENT and t not in items]
    if unknown:
        raise ValueError(f"invariance term(s) {unknown} are neither {list(_INVARIANCE_CLASSES + _INVARIANCE_LATENT)} "
                         "nor item ids")
    free = dict(free or {})
    free_items = list(free_items or [])
    for name, where in [(i, "free") for i in free] + [(i, "free_items") for i in free_items]:
        if name not in items:
            raise ValueError(f"{where} names item {name!r}, which is not in the data")
    out: dict[str, list[str]] = {}
    for j, item in enumerate(item_ids):
        m = get_model(models[item])
        k = int(n_cat[j])
        names = m.parameter_names(k)
        held = set(m.fixed_values) | set(_fixed_values(m, k, item, fixed[item]) if item in fixed else ())
        movable = [n for n in names if n not in held]
        if item in terms:
            chosen: set[str] = set()
        else:
            chosen = {n for n in movable
                      if ("slopes" if n.startswith("a") else "intercepts") not in terms}
        asked = [str(n) for n in free.get(item, ())]
        bad = [n for n in asked if n not in names]
        if bad:
            raise ValueError(f"free: item {item!r} ({m.name}) has no parameter(s) {bad}; its parameters are {names}")
        stuck = [n for n in asked if n in held]
        if stuck:
            raise ValueError(f"free: parameter(s) {stuck} of item {item!r} are fixed and cannot be freed")
        chosen |= set(asked)
        if item in free_items:
            chosen |= set(movable)
        if chosen and m.tied_names(k):
            raise ValueError(f"item {item!r}: parameters of model {m.name!r} are shared across items and "
                             "cannot be freed across groups; use 'rasch', '2pl', 'gpcm' or 'graded'")
        if chosen:
            out[item] = [n for n in names if n in chosen]
    return out


def _per_group(value: Any, labels: list[Any], default: float, what: str) -> np.ndarray:
    if value is None:
        return np.full(len(labels), default)
    if isinstance(value, Mapping) or isinstance(value, pd.Series):
        mapping = dict(value.items())
        unknown = [k for k in mapping if k not in labels]
        if unknown:
            raise ValueError(f"{what} names group(s) {unknown} that are not in the data {labels}")
        return np.array([float(mapping.get(g, default)) for g in labels])
    return np.full(len(labels), float(value))


def _movable(model_name: str, k: int, item: str, fixed: Mapping[str, Any]) -> list[str]:
    m = get_model(model_name)
    held = set(m.fixed_values) | set(_fixed_values(m, k, item, fixed[item]) if item in fixed else ())
    return [n for n in m.parameter_names(k) if n not in held]


def _fixed_values(m: ItemModel, k: int, item: str, given: Mapping[str, float]) -> dict[str, float]:
    names = m.parameter_names(k)
    irt_names = m.irt_parameter_names(k)
    given = {str(a): float(b) for a, b in given.items()}
    if all(n in names for n in given):
        return given
    fixed_irt = _fixed_names(m, k, "irt")
    if set(given) <= set(irt_names) and set(given) | set(fixed_irt) == set(irt_names):
        row = np.array([[given.get(n, fixed_irt.get(n, math.nan)) for n in irt_names]])
        return dict(zip(names, map(float, m.from_irt(row)[0])))
    raise ValueError(f"fixed parameters of item {item!r} must be slope-intercept names {names} or all of the "
                     f"IRT names {irt_names}; got {sorted(given)}")
