r"""The JSON document of a calibration: versioned schema, written and read back exactly.

Item parameters travel as one mapping per item (``{"a1": 1.2, "d": -0.3}``) under both
parameterizations; NaN (a parameter without a standard error) is written as ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pydantic

from psychometrics.irt.layout import ParameterLayout
from psychometrics.items import MODELS

#: Version of the JSON schema written by :meth:`Calibration.to_json`.
SCHEMA_VERSION = 1


class _ItemDocument(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    id: str
    model: str
    categories: list[int]
    slope_intercept: dict[str, float]
    irt: dict[str, float]
    slope_intercept_se: dict[str, float | None] | None = None
    irt_se: dict[str, float | None] | None = None

    @pydantic.field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODELS:
            raise ValueError(f"unknown item model {value!r}; known: {', '.join(MODELS)}")
        return value


class _CalibrationDocument(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    kind: Literal["psychometrics.calibration"] = "psychometrics.calibration"
    schema_version: Literal[1]
    items: list[_ItemDocument]
    slope_intercept_columns: list[str]
    irt_columns: list[str]
    se_columns: list[str] | None = None
    irt_se_columns: list[str] | None = None
    loglik: float | None
    aic: float | None
    bic: float | None
    n_iter: int
    converged: bool
    latent_mean: float
    latent_variance: float = pydantic.Field(gt=0)
    latent_variance_se: float | None = None
    history: list[float]
    quadrature_points: int
    n_persons: float
    n_parameters: int
    tol: float
    # multidimensional calibrations (absent for unidimensional ones)
    factors: list[str] | None = None
    factor_correlations: list[list[float]] | None = None
    factor_correlations_se: list[list[float | None]] | None = None
    rotation: str | None = None
    factor_model: str | None = None
    loglik_se: float | None = None
    # multi-group multidimensional calibrations (items equal across groups, so one document)
    groups: list[Any] | None = None
    factor_means: list[list[float]] | None = None
    factor_covariances: list[list[list[float]]] | None = None
    factor_means_se: list[list[float | None]] | None = None
    factor_covariances_se: list[list[list[float | None]]] | None = None
    general_factors: list[str] | None = None
    #: :meth:`ParameterLayout.to_dict`; absent in documents of earlier releases, where the
    #: layout the models imply is used
    parameter_layout: dict[str, Any] | None = None


def _row_dict(frame: pd.DataFrame, item: str, keep_nan: bool = False) -> dict[str, float | None]:
    row = frame.loc[item]
    out: dict[str, float | None] = {}
    for name, value in row.items():
        if pd.notna(value):
            out[str(name)] = float(value)
        elif keep_nan:
            out[str(name)] = None
    return out


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _none_to_nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _ordered_union(lists: Sequence[Sequence[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for names in lists:
        for name in names:
            seen.setdefault(name, None)
    return list(seen)


def _frame(item_ids: Sequence[str], rows: Sequence[Mapping[str, float]]) -> pd.DataFrame:
    columns = _ordered_union([list(r) for r in rows])
    data = np.full((len(item_ids), len(columns)), np.nan)
    for i, row in enumerate(rows):
        for name, value in row.items():
            data[i, columns.index(name)] = value
    return pd.DataFrame(data, index=pd.Index(list(item_ids), name="item"), columns=columns)


def dump(calibration: Any) -> str:
    """JSON text of a single-group calibration (:meth:`Calibration.to_json`)."""
    if calibration.is_multigroup and not calibration.factors:
        raise ValueError("a multi-group calibration has no single JSON form; write each group's "
                         "calibration, calibration.for_group(name).to_json()")
    items = []
    for item in calibration.item_ids:
        entry: dict[str, Any] = {
            "id": item, "model": calibration.models[item], "categories": list(calibration.categories[item]),
            "slope_intercept": _row_dict(calibration.slope_intercept, item),
            "irt": _row_dict(calibration.item_params, item),
        }
        if calibration.standard_errors is not None:
            entry["slope_intercept_se"] = _row_dict(calibration.standard_errors, item, keep_nan=True)
        if calibration.irt_standard_errors is not None:
            entry["irt_se"] = _row_dict(calibration.irt_standard_errors, item, keep_nan=True)
        items.append(entry)
    doc = _CalibrationDocument(
        schema_version=SCHEMA_VERSION, items=items,
        slope_intercept_columns=list(calibration.slope_intercept.columns),
        irt_columns=list(calibration.item_params.columns),
        se_columns=None if calibration.standard_errors is None else list(calibration.standard_errors.columns),
        irt_se_columns=None if calibration.irt_standard_errors is None else list(calibration.irt_standard_errors.columns),
        loglik=_nan_to_none(calibration.loglik), aic=_nan_to_none(calibration.aic), bic=_nan_to_none(calibration.bic),
        n_iter=calibration.n_iter, converged=calibration.converged, latent_mean=calibration.latent_mean,
        latent_variance=calibration.latent_variance, latent_variance_se=_nan_to_none(calibration.latent_variance_se),
        history=list(calibration.history), quadrature_points=calibration.quadrature_points,
        n_persons=calibration.n_persons, n_parameters=calibration.n_parameters, tol=calibration.tol,
        **_factor_fields(calibration),
        parameter_layout=None if calibration.parameter_layout is None else calibration.parameter_layout.to_dict(),
    )
    # a unidimensional document stays exactly what it was before factors existed, a
    # single-group multidimensional one what it was before groups
    exclude = set(_FACTOR_FIELDS + _GROUP_FIELDS) if not calibration.factors else (
        set(_GROUP_FIELDS[:-1]) if not calibration.is_multigroup else set())
    if not getattr(calibration, "general_factors", ()):
        exclude.add("general_factors")
    return doc.model_dump_json(exclude=exclude or None)


_FACTOR_FIELDS = ("factors", "factor_correlations", "factor_correlations_se", "rotation", "factor_model",
                  "loglik_se")


_GROUP_FIELDS = ("groups", "factor_means", "factor_covariances", "factor_means_se", "factor_covariances_se",
                 "general_factors")


def _nested(frame: pd.DataFrame | None, n_groups: int) -> list[Any] | None:
    if frame is None:
        return None
    values = [[_nan_to_none(float(v)) for v in row] for row in frame.to_numpy(dtype=float)]
    if frame.shape[0] == n_groups:
        return values
    size = frame.shape[0] // n_groups
    return [values[g * size:(g + 1) * size] for g in range(n_groups)]


def _factor_fields(calibration: Any) -> dict[str, Any]:
    if not getattr(calibration, "factors", ()):
        return {}
    se = calibration.factor_correlations_se
    groups: dict[str, Any] = {}
    if calibration.is_multigroup:
        n = len(calibration.groups)
        groups = dict(groups=list(calibration.groups), factor_means=_nested(calibration.factor_means, n),
                      factor_covariances=_nested(calibration.factor_covariances, n),
                      factor_means_se=_nested(calibration.factor_means_se, n),
                      factor_covariances_se=_nested(calibration.factor_covariances_se, n))
    return dict(**groups, general_factors=list(getattr(calibration, "general_factors", ())) or None,
                factors=list(calibration.factors),
                factor_correlations=calibration.factor_correlations.to_numpy(dtype=float).tolist(),
                factor_correlations_se=None if se is None else [[_nan_to_none(float(v)) for v in row]
                                                                for row in se.to_numpy(dtype=float)],
                rotation=calibration.rotation, factor_model=calibration.factor_model,
                loglik_se=_nan_to_none(calibration.loglik_se))


def load(text: str | bytes) -> dict[str, Any]:
    """The fields of a :class:`Calibration` from the JSON text :func:`dump` wrote.

    Raises
    ------
    ValueError
        When the text is not a calibration document of a supported schema version (the
        message says which field is wrong).
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON calibration document: {exc}") from None
    if isinstance(raw, dict) and raw.get("schema_version") not in (None, SCHEMA_VERSION):
        raise ValueError(f"calibration schema version {raw.get('schema_version')!r} is not supported "
                         f"(this version reads {SCHEMA_VERSION})")
    try:
        doc = _CalibrationDocument.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise ValueError(f"invalid calibration document: {exc}") from None
    ids = [it.id for it in doc.items]

    def table(attr: str, columns: list[str] | None) -> pd.DataFrame | None:
        if columns is None:
            return None
        rows = [{k: (math.nan if v is None else v) for k, v in (getattr(it, attr) or {}).items()}
                for it in doc.items]
        frame = _frame(ids, rows)
        return frame.reindex(columns=columns)

    out = dict(
        item_ids=ids, models={it.id: it.model for it in doc.items},
        categories={it.id: tuple(it.categories) for it in doc.items},
        item_params=table("irt", doc.irt_columns), slope_intercept=table("slope_intercept",
                                                                       doc.slope_intercept_columns),
        loglik=_none_to_nan(doc.loglik), aic=_none_to_nan(doc.aic), bic=_none_to_nan(doc.bic),
        n_iter=doc.n_iter, converged=doc.converged, latent_mean=doc.latent_mean,
        latent_variance=doc.latent_variance, history=tuple(doc.history),
        quadrature_points=doc.quadrature_points, n_persons=doc.n_persons,
        n_parameters=doc.n_parameters, standard_errors=table("slope_intercept_se", doc.se_columns),
        irt_standard_errors=table("irt_se", doc.irt_se_columns),
        latent_variance_se=_none_to_nan(doc.latent_variance_se), tol=doc.tol,
        **_load_factor_fields(doc),
        parameter_layout=None if doc.parameter_layout is None else ParameterLayout.from_dict(doc.parameter_layout),
    )
    if out.get("groups"):
        # a multi-group multidimensional calibration: items are equal across groups
        out["group_item_params"] = {g: out["item_params"].copy() for g in out["groups"]}
        out["group_slope_intercept"] = {g: out["slope_intercept"].copy() for g in out["groups"]}
    return out


def _load_factor_fields(doc: _CalibrationDocument) -> dict[str, Any]:
    if not doc.factors:
        return {}
    names = list(doc.factors)

    def square(values: list[list[Any]] | None) -> pd.DataFrame | None:
        if values is None:
            return None
        data = np.array([[math.nan if v is None else v for v in row] for row in values], dtype=float)
        if data.shape != (len(names), len(names)):
            raise ValueError(f"invalid calibration document: factor correlations have shape {data.shape} "
                             f"for {len(names)} factors")
        return pd.DataFrame(data, index=pd.Index(names, name="factor"), columns=names)

    corr = square(doc.factor_correlations if doc.factor_correlations is not None else np.eye(len(names)).tolist())
    extra: dict[str, Any] = {"general_factors": tuple(doc.general_factors or ())}
    if doc.groups:
        labels = list(doc.groups)
        index = pd.Index(labels, name="group")
        rows = pd.MultiIndex.from_tuples([(g, f) for g in labels for f in names], names=["group", "factor"])

        def means(values: list[list[Any]] | None) -> pd.DataFrame | None:
            if values is None:
                return None
            return pd.DataFrame(np.array([[math.nan if v is None else v for v in row] for row in values], dtype=float),
                                index=index, columns=names)

        def covariances(values: list[list[list[Any]]] | None) -> pd.DataFrame | None:
            if values is None:
                return None
            data = np.array([[[math.nan if v is None else v for v in row] for row in block] for block in values],
                            dtype=float)
            if data.shape != (len(labels), len(names), len(names)):
                raise ValueError(f"invalid calibration document: factor covariances have shape {data.shape} for "
                                 f"{len(labels)} groups and {len(names)} factors")
            return pd.DataFrame(data.reshape(-1, len(names)), index=rows, columns=names)

        extra.update(groups=tuple(labels), factor_means=means(doc.factor_means),
                     factor_covariances=covariances(doc.factor_covariances), factor_means_se=means(doc.factor_means_se),
                     factor_covariances_se=covariances(doc.factor_covariances_se))
    return dict(**extra, factors=tuple(names), factor_correlations=corr, factor_correlations_se=square(doc.factor_correlations_se),
                rotation=doc.rotation, factor_model=doc.factor_model or "confirmatory",
                loglik_se=_none_to_nan(doc.loglik_se))
