r"""Marginal maximum likelihood calibration of item response models (Bock-Aitkin EM).

:func:`calibrate` fits any mix of the registered item models (:data:`psychometrics.items.MODELS`)
to a response matrix with any pattern of missing responses and returns a :class:`Calibration`:
item parameters in IRT and slope-intercept form, log-likelihood, information criteria, latent
mean and variance, convergence history and, on request, standard errors.

The pipeline, one step per module:

- :mod:`psychometrics.quadrature` puts 61 equally spaced nodes on [-6, 6] with normal weights;
- :mod:`psychometrics.estep` turns the one-hot responses and the item log-probabilities into
  expected counts (matrix products, chunked over persons, plain sums);
- here, the M-step takes Newton steps with the models' analytic derivatives, batched over the
  items that share a model and a number of categories; parameters common to several items (the
  1PL slope, rating-scale thresholds) are updated jointly; SQUAREM extrapolation accelerates the
  EM map; convergence is mirt's: the largest absolute change of a parameter in one EM step is
  below ``tol``.

With ``group=``, :func:`calibrate` fits one model to several groups of persons (multi-group
calibration, mirt's ``multipleGroup``): each group has its own normal latent distribution (the
reference group's is N(0, 1)), items are equal across groups unless freed (``invariance``,
``free``, ``free_items``); an item freed across groups is estimated as one estimation column
per group, so the same batched M-step and per-group E-steps serve both cases.

Scoring and information curves live in :mod:`psychometrics.scoring` and
:mod:`psychometrics.information`; ``irt.score``, ``irt.eap_sum_table``,
``irt.item_information`` ... are re-exported from there on first use.

References
----------
.. [1] Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item
       parameters: Application of an EM algorithm. *Psychometrika*, 46, 443-459.
.. [2] Varadhan, R. & Roland, C. (2008). Simple and globally convergent methods for
       accelerating the convergence of any EM algorithm. *Scandinavian Journal of
       Statistics*, 35, 335-353.
.. [3] Oakes, D. (1999). Direct calculation of the information matrix via the EM algorithm.
       *Journal of the Royal Statistical Society B*, 61, 479-482.
.. [4] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for the R
       environment. *Journal of Statistical Software*, 48(6).
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import pydantic

from psychometrics import _dispatch
from psychometrics.data import Responses, align_labels, as_responses
from psychometrics.errors import ConvergenceWarning, DataWarning, ModelWarning, ResponseError
from psychometrics.estep import EStep, estep
from psychometrics.items import MODELS, ItemModel, get_model
from psychometrics.quadrature import normal_log_weights

__all__ = ["Calibration", "calibrate", "SCHEMA_VERSION", "MIN_GROUP_SIZE"]

#: Version of the JSON schema written by :meth:`Calibration.to_json`.
SCHEMA_VERSION = 1

_REEXPORTS = {
    "score": "psychometrics.scoring",
    "eap_sum_table": "psychometrics.scoring",
    "plausible_values": "psychometrics.scoring",
    "marginal_reliability": "psychometrics.scoring",
    "empirical_reliability": "psychometrics.scoring",
    "item_information": "psychometrics.information",
    "test_information": "psychometrics.information",
    "standard_error": "psychometrics.information",
}


def __getattr__(name: str) -> Any:
    # scoring and information sit above this module; importing them lazily keeps the layers
    # one-way while ``irt.score(...)`` still works
    if name in _REEXPORTS:
        return getattr(importlib.import_module(_REEXPORTS[name]), name)
    raise AttributeError(f"module 'psychometrics.irt' has no attribute {name!r}")


# ================================================================================================
# the result
# ================================================================================================

@dataclass(frozen=True)
class _Group:
    """Items sharing a model and a number of categories, as positions in the calibration."""

    model: ItemModel
    n_categories: int
    positions: np.ndarray
    params: np.ndarray


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


@dataclass(frozen=True, eq=False)
class Calibration:
    """Calibrated (or stated) item parameters and what later verbs need from them.

    Attributes
    ----------
    item_ids : list of str
        Items in calibration order.
    models : dict
        Item -> model name (mirt's names).
    categories : dict
        Item -> the response codes mapped to category indices 0..K-1 (after collapsing unused
        categories).
    item_params : DataFrame
        IRT form, one row per item: ``a, b`` (+ ``g``, ``u``) for dichotomous items, ``a,
        b1..b{K-1}`` for graded/partial credit items; NaN where an item lacks a parameter.
    slope_intercept : DataFrame
        mirt's default parameterization (``a1, d`` / ``a1, d1..``), same layout.
    loglik, aic, bic : float
        Marginal log-likelihood at the estimates (NaN for stated parameters) and information
        criteria :math:`-2\\ell + 2k` and :math:`-2\\ell + k\\log N`.
    n_iter : int
        EM iterations (evaluations of the EM map, accelerated or not).
    converged : bool
        Whether the largest absolute parameter change fell below ``tol``.
    latent_mean, latent_variance : float or Series
        Of the normal latent distribution (the variance is estimated for rasch/pcm/rsm). In a
        multi-group calibration, Series indexed by group (the reference group first).
    history : tuple of float
        Log-likelihood at every EM iteration.
    quadrature_points : int
        Nodes of the quadrature used.
    n_persons : float
        Persons that entered the likelihood (sum of frequency weights).
    n_parameters : int
        Freely estimated parameters (shared parameters counted once; latent variance included
        when estimated).
    standard_errors, irt_standard_errors : DataFrame or None
        Standard errors in slope-intercept and IRT form (``se=True``); NaN for fixed parameters.
    latent_variance_se : float
        Standard error of the latent variance (NaN where fixed or not computed).
    tol : float
        The convergence tolerance used.
    groups : tuple
        Group labels of a multi-group calibration, reference first (empty for one group).
    group_item_params, group_slope_intercept : dict or None
        Group -> that group's item parameters (IRT / slope-intercept form, all items; equal
        across groups except where freed). :attr:`item_params` holds the reference group's.
    freed : dict
        Item -> slope-intercept parameters estimated separately in each group.
    covariance : DataFrame or None
        Covariance of the estimated parameters (``se=True``), indexed by ``(item, parameter,
        group)`` with group ``"*"`` for a parameter common to all groups; latent parameters
        are listed under item ``"latent"`` (``mean``, ``variance``).
    latent_mean_se : float or Series
        Standard error of the latent mean(s) (NaN where fixed or not computed).
    """

    item_ids: list[str]
    models: dict[str, str]
    categories: dict[str, tuple[int, ...]]
    item_params: pd.DataFrame
    slope_intercept: pd.DataFrame
    loglik: float = math.nan
    aic: float = math.nan
    bic: float = math.nan
    n_iter: int = 0
    converged: bool = True
    latent_mean: float = 0.0
    latent_variance: float = 1.0
    history: tuple[float, ...] = ()
    quadrature_points: int = 61
    n_persons: float = 0.0
    n_parameters: int = 0
    standard_errors: pd.DataFrame | None = None
    irt_standard_errors: pd.DataFrame | None = None
    latent_variance_se: Any = math.nan
    tol: float = 1e-4
    groups: tuple = ()
    group_item_params: dict | None = None
    group_slope_intercept: dict | None = None
    freed: dict = dataclasses.field(default_factory=dict)
    covariance: pd.DataFrame | None = None
    latent_mean_se: Any = math.nan

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_item_params(cls, item_params: pd.DataFrame, model: str | Mapping[str, str], *,
                         categories: Mapping[str, Sequence[int]] | Sequence[int] | None = None,
                         latent_mean: float = 0.0, latent_variance: float = 1.0,
                         form: Literal["irt", "slope_intercept"] = "irt") -> "Calibration":
        """A calibration from stated parameters (published, from a bank), no data needed.

        Parameters
        ----------
        item_params : DataFrame
            Indexed by item id; columns named as in :attr:`item_params` (``form="irt"``: ``a,
            b, g, u`` / ``a, b1..``) or :attr:`slope_intercept` (``a1, d, g, u`` / ``a1,
            d1..``). The number of categories of an item is taken from its non-missing
            parameters. Parameters the model fixes (the Rasch slope) may be left out.
        model : str or mapping
            One model name for all items, or item -> model name.
        categories : mapping or sequence, optional
            Item -> response codes (or one sequence for every item); default ``0..K-1``.
        latent_mean, latent_variance : float
            Of the latent distribution.
        form : {"irt", "slope_intercept"}
            Which parameterization ``item_params`` uses.

        Examples
        --------
        >>> params = pd.DataFrame({"a": [1.0, 1.5], "b": [-0.5, 0.5]}, index=["q1", "q2"])
        >>> Calibration.from_item_params(params, "2pl").slope_intercept["d"].tolist()
        [0.5, -0.75]
        """
        if not isinstance(item_params, pd.DataFrame):
            raise TypeError(f"item_params must be a DataFrame indexed by item id, got {type(item_params).__name__}")
        if form not in ("irt", "slope_intercept"):
            raise ValueError(f"form must be 'irt' or 'slope_intercept', got {form!r}")
        if not latent_variance > 0:
            raise ValueError(f"latent_variance must be positive, got {latent_variance}")
        item_ids = [str(i) for i in item_params.index]
        if len(set(item_ids)) != len(item_ids):
            raise ValueError("item_params has duplicated item ids")
        models = _model_mapping(model, item_ids)
        frame = item_params.copy()
        frame.index = item_ids
        frame.columns = [str(c) for c in frame.columns]
        si_rows, irt_rows, cats = [], [], {}
        for item in item_ids:
            m = get_model(models[item])
            row = frame.loc[item]
            present = {c for c in frame.columns if pd.notna(row[c])}
            k = _infer_categories(m, present, form, item)
            names = m.irt_parameter_names(k) if form == "irt" else m.parameter_names(k)
            si_names = m.parameter_names(k)
            fixed_names = _fixed_names(m, k, form)
            values = []
            for name in names:
                if name in present:
                    values.append(float(row[name]))
                elif name in fixed_names:
                    values.append(fixed_names[name])
                else:
                    raise ValueError(f"item {item!r} (model {m.name!r}) lacks parameter {name!r}")
            values_arr = np.asarray([values])
            if form == "irt":
                irt, si = values_arr[0], m.from_irt(values_arr)[0]
            else:
                si, irt = values_arr[0], m.to_irt(values_arr)[0]
            si_rows.append(dict(zip(si_names, si)))
            irt_rows.append(dict(zip(m.irt_parameter_names(k), irt)))
            cats[item] = _category_codes(categories, item, k)
        return cls(item_ids=item_ids, models=models, categories=cats,
                   item_params=_frame(item_ids, irt_rows), slope_intercept=_frame(item_ids, si_rows),
                   latent_mean=float(latent_mean), latent_variance=float(latent_variance),
                   converged=True, n_iter=0)

    # -- derived structure -----------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @functools.cached_property
    def n_categories(self) -> np.ndarray:
        """(n_items,) number of categories per item."""
        return np.array([len(self.categories[i]) for i in self.item_ids], dtype=np.int64)

    @functools.cached_property
    def _groups(self) -> list[_Group]:
        keys: dict[tuple[str, int], list[int]] = {}
        for j, item in enumerate(self.item_ids):
            keys.setdefault((self.models[item], int(self.n_categories[j])), []).append(j)
        groups = []
        for (name, k), positions in keys.items():
            m = get_model(name)
            cols = m.parameter_names(k)
            params = self.slope_intercept.iloc[positions][cols].to_numpy(dtype=np.float64)
            groups.append(_Group(m, k, np.asarray(positions), params))
        return groups

    def log_probabilities(self, theta: np.ndarray) -> np.ndarray:
        """Log category probabilities (n_items, Q, max K); ``-inf`` for k >= K of an item."""
        theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
        out = np.full((self.n_items, theta.shape[0], int(self.n_categories.max())), -np.inf)
        for g in self._groups:
            out[g.positions, :, :g.n_categories] = g.model.log_probabilities(g.params, theta)
        return out

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """Category probabilities (n_items, Q, max K); 0 for k >= K of an item."""
        return np.exp(self.log_probabilities(theta))

    def information(self, theta: np.ndarray) -> np.ndarray:
        """Fisher item information (Q, n_items)."""
        theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
        out = np.empty((theta.shape[0], self.n_items))
        for g in self._groups:
            out[:, g.positions] = g.model.information(g.params, theta).T
        return out

    def encode(self, responses: Any) -> np.ndarray:
        """Category indices (persons, n_items), -1 for missing, in calibration item order.

        ``responses`` may hold any subset of the calibration's items in any order; absent
        items are missing. Codes are mapped through :attr:`categories`.

        Raises
        ------
        ResponseError
            For an item the calibration does not know, or a code outside an item's categories
            (naming respondent, row, item, column and value).
        """
        resp = as_responses(responses, warn=False)
        position = {item: j for j, item in enumerate(self.item_ids)}
        unknown = [c for c in resp.item_ids if c not in position]
        if unknown:
            raise ResponseError(f"item(s) {unknown} are not in the calibration; its items are {self.item_ids}")
        dtype = np.int8 if self.n_categories.max() < 127 else np.int32
        out = np.full((resp.n_persons, self.n_items), -1, dtype=dtype)
        values = resp.values
        for col, item in enumerate(resp.item_ids):
            out[:, position[item]] = _encode_column(values[:, col], self.categories[item], item, col,
                                                    resp.person_ids)
        return out

    @property
    def is_multigroup(self) -> bool:
        return len(self.groups) > 1

    def for_group(self, group: Any) -> "Calibration":
        """The single-group calibration of one group of a multi-group calibration: that
        group's item parameters and latent mean and variance (for scoring, fit, simulation).

        Raises
        ------
        ValueError
            When the calibration has no groups or ``group`` is not one of them.
        """
        if not self.is_multigroup:
            raise ValueError("this is a single-group calibration; it has no groups")
        if group not in self.groups:
            raise ValueError(f"group {group!r} is not one of the calibration's groups {list(self.groups)}")
        return dataclasses.replace(
            self, item_params=self.group_item_params[group].copy(),
            slope_intercept=self.group_slope_intercept[group].copy(),
            latent_mean=float(self.latent_mean[group]), latent_variance=float(self.latent_variance[group]),
            latent_variance_se=(float(self.latent_variance_se[group])
                                if isinstance(self.latent_variance_se, pd.Series) else math.nan),
            latent_mean_se=(float(self.latent_mean_se[group])
                            if isinstance(self.latent_mean_se, pd.Series) else math.nan),
            standard_errors=None if group != self.groups[0] else self.standard_errors,
            irt_standard_errors=None if group != self.groups[0] else self.irt_standard_errors,
            groups=(), group_item_params=None, group_slope_intercept=None, freed={}, covariance=None)

    # -- presentation ------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Item parameters in IRT form with the model of each item (and SEs when computed)."""
        frame = self.item_params.copy()
        frame.insert(0, "model", pd.Series(self.models))
        if self.irt_standard_errors is not None:
            frame = frame.join(self.irt_standard_errors.add_suffix("_se"))
        return frame

    def summary(self) -> str:
        """A short human-readable report."""
        lines = [
            f"Calibration of {self.n_items} items on {self.n_persons:g} persons "
            f"({', '.join(sorted(set(self.models.values())))})",
            f"log-likelihood {self.loglik:.3f}, AIC {self.aic:.2f}, BIC {self.bic:.2f}, "
            f"{self.n_parameters} parameters",
            f"{'converged' if self.converged else 'NOT converged'} after {self.n_iter} EM iterations "
            f"(tol {self.tol:g})" + ("" if self.is_multigroup else
                                      f"; latent mean {self.latent_mean:.3f}, variance {self.latent_variance:.3f}"),
            "",
        ]
        if self.is_multigroup:
            latent = pd.DataFrame({"mean": self.latent_mean, "variance": self.latent_variance})
            lines += [f"groups (reference {self.groups[0]!r}):", latent.round(3).to_string(), ""]
            if self.freed:
                lines += ["freed across groups: " + "; ".join(f"{i} ({', '.join(p)})" for i, p in self.freed.items()),
                          ""]
        lines.append(self.to_frame().round(3).to_string())
        return "\n".join(lines)

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self) -> str:
        """JSON text of the calibration (versioned schema); :meth:`from_json` reads it back
        exactly. Multi-group calibrations are written group by group (:meth:`for_group`)."""
        if self.is_multigroup:
            raise ValueError("a multi-group calibration has no single JSON form; write each group's "
                             "calibration, calibration.for_group(name).to_json()")
        items = []
        for item in self.item_ids:
            entry: dict[str, Any] = {
                "id": item, "model": self.models[item], "categories": list(self.categories[item]),
                "slope_intercept": _row_dict(self.slope_intercept, item),
                "irt": _row_dict(self.item_params, item),
            }
            if self.standard_errors is not None:
                entry["slope_intercept_se"] = _row_dict(self.standard_errors, item, keep_nan=True)
            if self.irt_standard_errors is not None:
                entry["irt_se"] = _row_dict(self.irt_standard_errors, item, keep_nan=True)
            items.append(entry)
        doc = _CalibrationDocument(
            schema_version=SCHEMA_VERSION, items=items,
            slope_intercept_columns=list(self.slope_intercept.columns),
            irt_columns=list(self.item_params.columns),
            se_columns=None if self.standard_errors is None else list(self.standard_errors.columns),
            irt_se_columns=None if self.irt_standard_errors is None else list(self.irt_standard_errors.columns),
            loglik=_nan_to_none(self.loglik), aic=_nan_to_none(self.aic), bic=_nan_to_none(self.bic),
            n_iter=self.n_iter, converged=self.converged, latent_mean=self.latent_mean,
            latent_variance=self.latent_variance, latent_variance_se=_nan_to_none(self.latent_variance_se),
            history=list(self.history), quadrature_points=self.quadrature_points,
            n_persons=self.n_persons, n_parameters=self.n_parameters, tol=self.tol,
        )
        return doc.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> "Calibration":
        """Read a calibration written by :meth:`to_json`.

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

        return cls(
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
        )


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


def _encode_column(col: np.ndarray, codes: tuple[int, ...], item: str, position: int,
                   person_ids: pd.Index) -> np.ndarray:
    observed = ~np.isnan(col)
    table = np.asarray(codes, dtype=np.float64)
    order = np.argsort(table)
    sorted_codes = table[order]
    idx = np.searchsorted(sorted_codes, np.where(observed, col, sorted_codes[0]))
    idx = np.minimum(idx, len(codes) - 1)
    bad = observed & (sorted_codes[idx] != col)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = col[row]
        shown = int(value) if float(value).is_integer() else value
        raise ResponseError(
            f"respondent {person_ids[row]!r} (row {row}), item {item!r} (column {position}): value "
            f"{shown} is not one of the item's calibrated categories {codes}"
            f" ({int(bad.sum())} such value(s) in this column)")
    return np.where(observed, order[idx], -1)


# ================================================================================================
# calibration
# ================================================================================================

_PRIOR_KINDS = {"normal": 1, "lognormal": 2, "beta": 3}


def _prior_terms(kind: np.ndarray, p1: np.ndarray, p2: np.ndarray,
                 x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-density, first and second derivative of independent priors, elementwise."""
    logp = np.zeros_like(x)
    grad = np.zeros_like(x)
    hess = np.zeros_like(x)
    if not kind.any():
        return logp, grad, hess
    with np.errstate(divide="ignore", invalid="ignore"):
        m = kind == 1
        if m.any():
            z = (x[m] - p1[m]) / p2[m]
            logp[m] = -0.5 * z * z
            grad[m] = -z / p2[m]
            hess[m] = -1.0 / (p2[m] * p2[m])
        m = kind == 2
        if m.any():
            xm = x[m]
            ok = xm > 0
            lx = np.log(np.where(ok, xm, 1.0))
            s2 = p2[m] * p2[m]
            logp[m] = np.where(ok, -lx - (lx - p1[m]) ** 2 / (2 * s2), -np.inf)
            grad[m] = np.where(ok, -1.0 / xm - (lx - p1[m]) / (s2 * xm), 0.0)
            hess[m] = np.where(ok, 1.0 / xm ** 2 - (1.0 - (lx - p1[m])) / (s2 * xm ** 2), -1.0)
        m = kind == 3
        if m.any():
            xm = x[m]
            ok = (xm > 0) & (xm < 1)
            xs = np.where(ok, xm, 0.5)
            al, be = p1[m] - 1.0, p2[m] - 1.0
            logp[m] = np.where(ok, al * np.log(xs) + be * np.log1p(-xs), -np.inf)
            grad[m] = np.where(ok, al / xs - be / (1.0 - xs), 0.0)
            hess[m] = np.where(ok, -al / xs ** 2 - be / (1.0 - xs) ** 2, -1.0)
    return logp, grad, hess


class _Block:
    """Estimation state of one group of items (same model, same K).

    ``slot`` maps each (item, parameter) to a position in the packed parameter vector, -1 for
    parameters held fixed; parameters common to the items of the group share one slot.
    """

    def __init__(self, model: ItemModel, n_categories: int, positions: np.ndarray,
                 params: np.ndarray, fixed: np.ndarray, prior: tuple[np.ndarray, np.ndarray, np.ndarray],
                 first_slot: int, share: np.ndarray | None = None) -> None:
        self.model = model
        self.k = n_categories
        self.positions = positions
        self.params = params
        self.prior_kind, self.prior_p1, self.prior_p2 = prior
        names = model.parameter_names(n_categories)
        tied_names = (model.tied_names(n_categories) if hasattr(model, "tied_names") else list(model.tied))
        block_fixed = getattr(model, "block_fixed", None)
        fixed = fixed.copy()
        if callable(block_fixed):
            fixed |= np.asarray(block_fixed(n_categories, len(positions)), dtype=bool)
        elif hasattr(model, "expand_block") and "c" in names and len(positions):
            # rating-scale blocks are identified by the first item's location (mirt's choice)
            fixed[0, names.index("c")] = True
        slot = np.full(params.shape, -1, dtype=np.int64)
        n = first_slot
        self.tied = [names.index(t) for t in tied_names if t in names]
        for col in range(params.shape[1]):
            free_rows = np.flatnonzero(~fixed[:, col])
            if col in self.tied:
                if free_rows.size:
                    slot[free_rows, col] = n
                    n += 1
            elif share is not None:
                # copies of one item in several groups hold a parameter in one slot unless it
                # is freed across groups (share key -1)
                seen: dict[int, int] = {}
                for r in free_rows:
                    key = int(share[r, col])
                    if key >= 0 and key in seen:
                        slot[r, col] = seen[key]
                        continue
                    slot[r, col] = n
                    if key >= 0:
                        seen[key] = n
                    n += 1
            else:
                slot[free_rows, col] = n + np.arange(free_rows.size)
                n += free_rows.size
        self.lower = np.array([model.bounds.get(nm, (-np.inf, np.inf))[0] for nm in names])
        self.upper = np.array([model.bounds.get(nm, (-np.inf, np.inf))[1] for nm in names])
        self.slot = slot
        self.n_slots = n - first_slot
        self.first_slot = first_slot
        self.free = slot >= 0
        shared_slots = share is not None and np.unique(slot[self.free]).size < int(self.free.sum())
        self.has_tied = (bool(self.tied) and self.free[:, self.tied].any()) or bool(shared_slots)

    # -- packing ----------------------------------------------------------------------------------
    def pack(self, x: np.ndarray) -> None:
        x[self.slot[self.free]] = self.params[self.free]

    def unpack(self, x: np.ndarray) -> None:
        self.params = self.params.copy()
        self.params[self.free] = x[self.slot[self.free]]

    # -- objective ----------------------------------------------------------------------------------
    def _prior(self, params: np.ndarray, rows: Any = slice(None)):
        return _prior_terms(self.prior_kind[rows], self.prior_p1[rows], self.prior_p2[rows], params)

    def objective(self, params: np.ndarray, nodes: np.ndarray, counts: np.ndarray,
                  rows: Any = slice(None)) -> np.ndarray:
        value = self.model.objective(params, nodes, counts)
        logp, _, _ = self._prior(params, rows)
        return value + logp.sum(axis=1)

    def derivatives(self, params: np.ndarray, nodes: np.ndarray,
                    counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad, hess = self.model.gradient_hessian(params, nodes, counts)
        _, pg, ph = self._prior(params)
        grad = grad + pg
        hess = hess.copy()
        idx = np.arange(params.shape[1])
        hess[:, idx, idx] += ph
        return grad, hess

    # -- M-step ----------------------------------------------------------------------------------------
    def mstep(self, nodes: np.ndarray, counts: np.ndarray, max_steps: int, step_tol: float) -> None:
        if not self.free.any():
            return
        if self.has_tied:
            self._newton_joint(nodes, counts, max_steps, step_tol)
        else:
            self._newton_items(nodes, counts, max_steps, step_tol)

    def _newton_items(self, nodes, counts, max_steps, step_tol):
        params = self.params
        free = self.free
        n, p = params.shape
        obj = self.objective(params, nodes, counts)
        eye = np.eye(p)
        for _ in range(max_steps):
            grad, hess = self.derivatives(params, nodes, counts)
            # active set: a parameter on its bound whose gradient points outward sits this
            # step out, so that the projection cannot stall the others
            free = self.free & ~(((params <= self.lower) & (grad < 0)) | ((params >= self.upper) & (grad > 0)))
            grad = np.where(free, grad, 0.0)
            both = free[:, :, None] & free[:, None, :]
            hess = np.where(both, hess, 0.0) - (~free)[:, :, None] * eye
            step = _ascent_steps(grad, hess)
            new_params, new_obj, moved = self._line_search(params, step, obj, nodes, counts)
            params, obj = new_params, new_obj
            if not moved.any() or np.max(np.abs(step[moved])) < step_tol:
                break
        self.params = params

    def _line_search(self, params, step, obj, nodes, counts):
        n = params.shape[0]
        scale = np.ones(n)
        accepted = np.zeros(n, dtype=bool)
        out = params.copy()
        out_obj = obj.copy()
        for _ in range(12):
            pending = ~accepted
            if not pending.any():
                break
            trial = self.model.project(params[pending] + scale[pending, None] * step[pending], self.k)
            value = self.objective(trial, nodes, counts[pending], pending)
            ok = np.isfinite(value) & (value >= obj[pending] - 1e-9 * (1.0 + np.abs(obj[pending])))
            rows = np.flatnonzero(pending)[ok]
            out[rows] = trial[ok]
            out_obj[rows] = value[ok]
            accepted[rows] = True
            scale[pending] *= 0.5
        return out, out_obj, accepted

    def _newton_joint(self, nodes, counts, max_steps, step_tol):
        """Newton steps on the group's packed slots (shared parameters summed over items)."""
        n, p = self.params.shape
        slots = self.slot - self.first_slot
        m = self.n_slots
        expand = np.zeros((n, p, m))
        rows, cols = np.nonzero(self.free)
        expand[rows, cols, slots[rows, cols]] = 1.0
        x = np.zeros(m)
        x[slots[rows, cols]] = self.params[rows, cols]
        params = self.params
        total = self.objective(params, nodes, counts).sum()
        for _ in range(max_steps):
            grad, hess = self.derivatives(params, nodes, counts)
            g = np.einsum("ipm,ip->m", expand, grad)
            h = np.einsum("ipm,ipq,iqn->mn", expand, hess, expand)
            step = _ascent_steps(g[None], h[None])[0]
            scale = 1.0
            moved = False
            for _ in range(12):
                trial_x = x + scale * step
                trial = params.copy()
                trial[rows, cols] = trial_x[slots[rows, cols]]
                trial = self.model.project(trial, self.k)
                value = self.objective(trial, nodes, counts).sum()
                if np.isfinite(value) and value >= total - 1e-9 * (1.0 + abs(total)):
                    params, total, moved = trial, value, True
                    x[slots[rows, cols]] = trial[rows, cols]
                    break
                scale *= 0.5
            if not moved or np.max(np.abs(step)) < step_tol:
                break
        self.params = params

    # -- score for standard errors ---------------------------------------------------------------
    def score(self, nodes: np.ndarray, counts: np.ndarray, out: np.ndarray) -> None:
        grad, _ = self.derivatives(self.params, nodes, counts)
        np.add.at(out, self.slot[self.free], grad[self.free])


def _ascent_steps(grad: np.ndarray, hess: np.ndarray) -> np.ndarray:
    """Newton steps ``-H^{-1} g`` for a batch, with H pushed negative definite where it is not."""
    p = grad.shape[1]
    eye = np.eye(p)
    sym = 0.5 * (hess + hess.transpose(0, 2, 1))
    # an item whose derivatives overflowed stays put this step rather than poisoning the batch
    bad = ~(np.isfinite(grad).all(axis=1) & np.isfinite(sym).all(axis=(1, 2)))
    if bad.any():
        grad = np.where(bad[:, None], 0.0, grad)
        sym = np.where(bad[:, None, None], -eye, sym)
    top = np.linalg.eigvalsh(sym)[:, -1]
    scale = np.maximum(np.abs(np.diagonal(sym, axis1=1, axis2=2)).max(axis=1), 1e-8)
    shift = np.where(top > -1e-8 * scale, top + 1e-3 * scale + 1e-8, 0.0)
    sym = sym - shift[:, None, None] * eye
    step = -np.linalg.solve(sym, grad[:, :, None])[:, :, 0]
    # cap single steps so one wild Newton step cannot throw a parameter far away
    big = np.abs(step).max(axis=1, keepdims=True)
    return np.where(big > 5.0, step * (5.0 / np.maximum(big, 1e-300)), step)


class _GroupData(NamedTuple):
    """The persons of one group: their (collapsed) responses to the columns they can answer."""

    encoded: np.ndarray
    weights: np.ndarray | None
    columns: np.ndarray | None   # estimation columns these responses belong to; None = all
    n_persons: float


class _Problem:
    """The EM map of one calibration: packed parameters -> E-step -> M-step.

    The estimation works on *columns*: one per item, or one per item and group for an item
    whose parameters are freed across groups. Each group has its own latent normal
    distribution; the E-step runs group by group with that group's prior weights and the
    expected counts add up over groups.
    """

    def __init__(self, blocks: list[_Block], groups: list[_GroupData], nodes: np.ndarray,
                 n_categories: np.ndarray, means: np.ndarray, variances: np.ndarray,
                 mean_free: np.ndarray, variance_free: np.ndarray, newton_steps: int,
                 estep_function: Callable[..., EStep] = estep) -> None:
        # the E-step of a group: estep_function(group.encoded, log_probs, log_prior, group.weights);
        # psychometrics.distributed passes one that maps the same kernel over Dask partitions
        self.estep_function = estep_function
        self.blocks = blocks
        self.groups = groups
        self.nodes = nodes
        self.n_columns = int(n_categories.shape[0])
        self.max_k = int(n_categories.max())
        self.means = np.asarray(means, dtype=np.float64).copy()
        self.variances = np.asarray(variances, dtype=np.float64).copy()
        self.mean_free = np.asarray(mean_free, dtype=bool)
        self.variance_free = np.asarray(variance_free, dtype=bool)
        self.newton_steps = newton_steps
        self.n_item_slots = sum(b.n_slots for b in blocks)
        # latent slots follow the item slots: per group its mean, then its variance
        self.latent_slots: list[tuple[int, str]] = []
        for g in range(len(groups)):
            if self.mean_free[g]:
                self.latent_slots.append((g, "mean"))
            if self.variance_free[g]:
                self.latent_slots.append((g, "variance"))
        self.size = self.n_item_slots + len(self.latent_slots)
        self.n_estep = 0
        self.group_nodes: list[tuple[np.ndarray, float]] = []

    def pack(self) -> np.ndarray:
        x = np.empty(self.size)
        for b in self.blocks:
            b.pack(x)
        for s, (g, kind) in enumerate(self.latent_slots):
            x[self.n_item_slots + s] = self.means[g] if kind == "mean" else self.variances[g]
        return x

    def unpack(self, x: np.ndarray) -> None:
        for b in self.blocks:
            b.unpack(x)
        for s, (g, kind) in enumerate(self.latent_slots):
            if kind == "mean":
                self.means[g] = float(x[self.n_item_slots + s])
            else:
                self.variances[g] = float(x[self.n_item_slots + s])

    def log_probabilities(self) -> np.ndarray:
        out = np.full((self.n_columns, self.nodes.shape[0], self.max_k), -np.inf)
        for b in self.blocks:
            out[b.positions, :, :b.k] = b.model.log_probabilities(b.params, self.nodes)
        return out

    def expectation(self) -> EStep:
        self.n_estep += 1
        log_probs = self.log_probabilities()
        if len(self.groups) == 1 and self.groups[0].columns is None:
            data = self.groups[0]
            e = self.estep_function(data.encoded, log_probs,
                                    normal_log_weights(self.nodes, self.means[0], self.variances[0]), data.weights)
            self.group_nodes = [(e.node_counts, e.n_persons)]
            return e
        counts = np.zeros(log_probs.shape)
        loglik = 0.0
        self.group_nodes = []
        for g, data in enumerate(self.groups):
            log_prior = normal_log_weights(self.nodes, self.means[g], self.variances[g])
            e = self.estep_function(data.encoded, log_probs[data.columns], log_prior, data.weights)
            counts[data.columns] += e.counts
            loglik += e.loglik
            self.group_nodes.append((e.node_counts, e.n_persons))
        return EStep(counts, loglik, sum(n for n, _ in self.group_nodes),
                     float(sum(n for _, n in self.group_nodes)))

    def maximization(self, e: EStep, step_tol: float) -> None:
        for b in self.blocks:
            b.mstep(self.nodes, e.counts[b.positions, :, :b.k], self.newton_steps, step_tol)
        for g, (node_counts, n) in enumerate(self.group_nodes):
            if self.mean_free[g] or self.variance_free[g]:
                self.means[g], self.variances[g] = _latent_mstep(
                    self.nodes, node_counts, n, self.means[g], self.variances[g],
                    bool(self.mean_free[g]), bool(self.variance_free[g]))

    def valid(self, x: np.ndarray) -> bool:
        if not np.all(np.isfinite(x)):
            return False
        return all(x[self.n_item_slots + s] > 1e-4 for s, (_, kind) in enumerate(self.latent_slots)
                   if kind == "variance")

    def em_map(self, x: np.ndarray, step_tol: float) -> tuple[np.ndarray, float]:
        """One EM iteration from ``x``: the new packed parameters and the log-likelihood at x."""
        self.unpack(x)
        e = self.expectation()
        self.maximization(e, step_tol)
        return self.pack(), e.loglik

    def score(self, x: np.ndarray) -> np.ndarray:
        """Gradient of the observed log-posterior at x (Fisher's identity)."""
        self.unpack(x)
        e = self.expectation()
        out = np.zeros(self.size)
        for b in self.blocks:
            b.score(self.nodes, e.counts[b.positions, :, :b.k], out)
        for s, (g, kind) in enumerate(self.latent_slots):
            node_counts = self.group_nodes[g][0]
            mu, v = self.means[g], self.variances[g]
            prior = np.exp(normal_log_weights(self.nodes, mu, v))
            # d log w_q = d log phi_q - E_w[d log phi]: the weights are normalized on the grid
            if kind == "mean":
                dev = self.nodes - mu
                out[self.n_item_slots + s] = float(node_counts @ (dev - prior @ dev)) / v
            else:
                sq = (self.nodes - mu) ** 2
                out[self.n_item_slots + s] = float(node_counts @ (sq - prior @ sq)) / (2.0 * v * v)
        return out


def _latent_mstep(nodes: np.ndarray, node_counts: np.ndarray, n: float, mean: float, variance: float,
                  mean_free: bool, variance_free: bool) -> tuple[float, float]:
    r"""Latent mean and/or variance maximizing :math:`\sum_q N_q \log w_q(\mu, \sigma^2)`.

    The weights are normalized over the fixed nodes, a discrete exponential family in
    :math:`\eta = (\mu/\sigma^2, -1/(2\sigma^2))` with statistics :math:`(\theta, \theta^2)`:
    the maximum matches the moments of the weights to those of the posterior counts. The
    continuous moment estimates are the start; a few Newton steps on the (concave) problem
    remove the error that the grid's truncation at its ends would otherwise leave (it is
    visible for groups whose latent distribution reaches the edge of the grid).
    """
    if n <= 0:
        return mean, variance
    target1 = float(node_counts @ nodes) / n
    if mean_free:
        mean = target1
    if variance_free:
        centred = nodes - mean
        variance = max(float(node_counts @ (centred * centred)) / n, 1e-4)
    if mean_free and variance_free:
        stats_ = np.stack([nodes, nodes * nodes])
        eta = np.array([mean / variance, -0.5 / variance])
    elif mean_free:
        stats_ = nodes[None, :]
        eta = np.array([mean / variance])
    else:
        stats_ = ((nodes - mean) ** 2)[None, :]
        eta = np.array([-0.5 / variance])
    target = stats_ @ node_counts / n
    base = np.zeros_like(nodes) if variance_free else -0.5 * nodes * nodes / variance
    for _ in range(8):
        log_w = base + eta @ stats_
        log_w -= np.logaddexp.reduce(log_w)
        w = np.exp(log_w)
        expected = stats_ @ w
        grad = target - expected
        if np.max(np.abs(grad)) < 1e-12 * (1.0 + np.max(np.abs(target))):
            break
        centred_stats = stats_ - expected[:, None]
        cov = (centred_stats * w) @ centred_stats.T
        try:
            step = np.linalg.solve(cov, grad)
        except np.linalg.LinAlgError:
            break
        trial = eta + step
        if variance_free and not trial[-1] < 0:
            break
        eta = trial
    if mean_free and variance_free:
        variance = -0.5 / eta[1]
        mean = eta[0] * variance
    elif mean_free:
        mean = float(eta[0] * variance)
    else:
        variance = -0.5 / float(eta[0])
    return float(mean), float(max(variance, 1e-4))


Callback = Callable[[int, float, float], Any]


def _report(callback: Callback | None, n_iter: int, loglik: float, change: np.ndarray) -> None:
    if callback is not None:
        callback(int(n_iter), float(loglik), float(np.max(np.abs(change))) if change.size else 0.0)


def _squarem(problem: _Problem, x0: np.ndarray, tol: float, max_iter: int,
             step_tol: float, callback: Callback | None = None) -> tuple[np.ndarray, list[float], bool, int]:
    """SQUAREM (SqS3) around the EM map; convergence when a plain EM step moves no parameter
    by ``tol`` or more. Returns the estimate, the log-likelihood history, the convergence flag
    and the number of EM iterations."""
    history: list[float] = []
    step_max = 1.0
    x = x0
    n_iter = 0
    while n_iter < max_iter:
        x1, ll0 = problem.em_map(x, step_tol)
        n_iter += 1
        history.append(ll0)
        r = x1 - x
        _report(callback, n_iter, ll0, r)
        if r.size == 0 or np.max(np.abs(r)) < tol:
            return x1, history, True, n_iter
        if n_iter >= max_iter:
            return x1, history, False, n_iter
        x2, ll1 = problem.em_map(x1, step_tol)
        n_iter += 1
        history.append(ll1)
        v = (x2 - x1) - r
        _report(callback, n_iter, ll1, x2 - x1)
        if np.max(np.abs(x2 - x1)) < tol:
            return x2, history, True, n_iter
        norm_v = float(np.sqrt(v @ v))
        if norm_v == 0.0 or n_iter >= max_iter:
            x = x2
            continue
        alpha = -float(np.sqrt(r @ r)) / norm_v
        alpha = min(-1.0, max(alpha, -step_max))
        candidate = x - 2.0 * alpha * r + alpha * alpha * v
        if not problem.valid(candidate):
            x = x2
            continue
        x3, ll_candidate = problem.em_map(candidate, step_tol)
        n_iter += 1
        history.append(ll_candidate)
        _report(callback, n_iter, ll_candidate, x3 - candidate)
        if np.isfinite(ll_candidate) and ll_candidate >= ll1 - 1e-8 * abs(ll1):
            if np.max(np.abs(x3 - candidate)) < tol:
                return x3, history, True, n_iter
            x = x3
            if alpha == -step_max:
                step_max *= 4.0
        else:
            # the extrapolation lost likelihood: fall back to the plain EM iterate
            x = x2
            step_max = max(1.0, step_max / 4.0)
    return x, history, False, n_iter



def _parse_priors(priors: Mapping[str, Any] | None, item_ids: Sequence[str]) -> dict[str, dict[str, tuple]]:
    """item -> {parameter name or prefix -> (kind, p1, p2)}."""
    if not priors:
        return {}
    per_item: dict[str, dict[str, tuple]] = {i: {} for i in item_ids}

    def check(spec: Any, where: str) -> tuple:
        if (not isinstance(spec, (tuple, list)) or len(spec) != 3 or spec[0] not in _PRIOR_KINDS):
            raise ValueError(f"prior for {where} must be (kind, p1, p2) with kind one of "
                             f"{sorted(_PRIOR_KINDS)}, got {spec!r}")
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


def _prior_arrays(names: list[str], items: list[str], per_item: Mapping[str, Mapping[str, tuple]],
                 matched: set[tuple[str, str]] | None = None):
    """Prior kind and parameters per (item, slope-intercept parameter); ``matched`` collects
    the (item, key) pairs that applied to some parameter."""
    kind = np.zeros((len(items), len(names)), dtype=np.int64)
    p1 = np.zeros(kind.shape)
    p2 = np.ones(kind.shape)
    for r, item in enumerate(items):
        for key, (k, a, b) in per_item.get(item, {}).items():
            for c, name in enumerate(names):
                # "d" also covers d1, d2, ... (all intercepts of a polytomous item)
                if name == key or (name.startswith(key) and name[len(key):].isdigit() and key[-1:].isalpha()):
                    kind[r, c], p1[r, c], p2[r, c] = _PRIOR_KINDS[k], a, b
                    if matched is not None:
                        matched.add((item, key))
    return kind, p1, p2


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
                         "g (lower asymptote), u (upper asymptote)")


def _prepare(resp: Responses, models: Mapping[str, str],
             stated: Mapping[str, tuple[int, ...]] | None = None):
    """Category codes per item (collapsing unused ones), encoded matrix, dropped persons.

    ``stated`` gives the codes of items whose categories are already known (anchor items held
    at bank values): they are kept even when some are unused in these data.
    """
    values = resp.values
    item_ids = resp.item_ids
    seen = [np.unique(col[~np.isnan(col)]) for col in values.T]
    categories = _discover_categories(item_ids, seen, resp.categories, models, stated)
    encoded = np.full(values.shape, -1, dtype=np.int8 if max(map(len, categories.values())) < 127 else np.int32)
    for j, item in enumerate(item_ids):
        encoded[:, j] = _encode_column(values[:, j], categories[item], item, j, resp.person_ids)
    return categories, encoded


def _discover_categories(item_ids: Sequence[str], distinct: Sequence[np.ndarray],
                         admissible_codes: Mapping[str, Sequence[int]], models: Mapping[str, str],
                         stated: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, tuple[int, ...]]:
    """Category codes per item from the distinct values observed (sorted, per item), with the
    checks of a calibration: no empty, constant or non-integer item, no code outside the
    admissible ones; unused admissible codes are collapsed with a warning. Only the distinct
    values are needed, so partitions of the data can be scanned separately and their values
    united (:mod:`psychometrics.distributed`)."""
    categories: dict[str, tuple[int, ...]] = {}
    stated = stated or {}
    for j, item in enumerate(item_ids):
        seen = distinct[j]
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
                          f"item is calibrated with categories {codes}", ModelWarning, stacklevel=6)
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


#: Fewest persons a group of a multi-group calibration may have: below it a group's latent
#: mean and variance (and any freed item parameters) rest on too little data to be estimated.
MIN_GROUP_SIZE = 50

_INVARIANCE_CLASSES = ("slopes", "intercepts")
_INVARIANCE_LATENT = ("free_means", "free_var")


def calibrate(responses: Any, model: str | Mapping[str, str] = "2pl", *, group: Any = None,
              reference: Any = None, invariance: Sequence[str] | None = None,
              free: Mapping[str, Sequence[str]] | None = None, free_items: Sequence[str] | None = None,
              estimate_latent: bool | None = None, latent_mean: Any = None, latent_variance: Any = None,
              min_group_size: int = MIN_GROUP_SIZE, quadrature_points: int = 61,
              tol: float = 1e-4, max_iter: int = 500, se: bool = False,
              priors: Mapping[str, Any] | None = None,
              fixed: Mapping[str, Mapping[str, float]] | None = None,
              weights: Any = None, start: pd.DataFrame | None = None,
              accelerate: bool = True, newton_steps: int = 3,
              callback: Callable[[int, float, float], Any] | None = None,
              check_dimensionality: bool = False) -> Calibration:
    r"""Calibrate item response models by marginal maximum likelihood (Bock-Aitkin EM).

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN = missing (any pattern: missing responses are absent from the
        likelihood, never imputed).
    model : str or mapping
        A registered model name (``"rasch"``, ``"1pl"``, ``"2pl"``, ``"3pl"``, ``"4pl"``,
        ``"graded"``, ``"gpcm"``, ``"pcm"``, ``"rsm"``, ``"nominal"``) or item -> name.
    group : array-like, Series or str, optional
        Group label of every person (a Series is aligned on the respondent ids when its index
        holds them, else taken in row order; a string names a column of the ``responses``
        DataFrame). Gives a multi-group calibration: each group has its own normal latent
        distribution; the reference group's is N(0, 1).
    reference : optional
        The reference group; default the first level (the first category of a categorical,
        else the smallest label).
    invariance : sequence of str, optional
        What is held equal across groups (mirt's ``multipleGroup`` vocabulary): ``"slopes"``
        (parameters named ``a...``), ``"intercepts"`` (all others: ``d``, ``d1..``, ``g``,
        ``u``, ``c``), item ids (all parameters of those items, anchor items), and
        ``"free_means"``, ``"free_var"`` (estimate the focal groups' latent means/variances).
        Default ``["slopes", "intercepts"]``: every item equal across groups.
    free : mapping, optional
        ``{item: [parameter, ...]}``: slope-intercept parameters estimated separately in every
        group on top of ``invariance``.
    free_items : sequence of str, optional
        Items all of whose parameters are estimated separately in every group.
    estimate_latent : bool, optional
        Latent means and variances. ``None`` (default): the focal groups' means are estimated
        when some item is equal across groups, their variances when some slope is; the
        reference group stays N(0, 1) (its variance is estimated for rasch/pcm/rsm).
        ``True``: every group's mean and variance are estimated, the reference's included:
        the scale is then set by ``fixed`` item parameters (anchor items held at bank values).
        ``False``: means and variances stay at ``latent_mean`` / ``latent_variance``.
    latent_mean, latent_variance : float or mapping group -> float, optional
        Starting values of estimated latent means/variances and the values of fixed ones
        (default 0 and 1).
    min_group_size : int
        Smallest number of persons (who answered an item) a group may have (default 50).
    quadrature_points : int
        Equally spaced nodes on [-6, 6] (mirt's default 61).
    tol : float
        Convergence when the largest absolute change of a parameter in one EM step is below
        ``tol`` (mirt's criterion).
    max_iter : int
        Most EM iterations; reaching it emits a :class:`ConvergenceWarning` and sets
        ``converged=False``.
    se : bool
        Compute standard errors (Oakes identity, both parameterizations, delta method) and
        the parameter covariance matrix.
    priors : mapping, optional
        ``{"g": ("beta", 5, 17), "a1": ("lognormal", 0, 0.5), "d": ("normal", 0, 3)}`` for
        every item having the parameter (a name also covers numbered intercepts ``d1``...), or
        ``{item: {name: spec}}`` for one item. Priors act on slope-intercept parameters.
    fixed : mapping, optional
        ``{item: {name: value}}``: parameters held at a value (slope-intercept names, or the
        complete set of an item's IRT names), e.g. anchor items for linking.
    weights : array-like (persons,), optional
        Frequency weights (e.g. counts of response patterns).
    start : DataFrame, optional
        Starting values in slope-intercept form (as :attr:`Calibration.slope_intercept`); in a
        multi-group calibration they start every group.
    accelerate : bool
        SQUAREM extrapolation of the EM map.
    newton_steps : int
        Most Newton steps per item per M-step.
    callback : callable, optional
        Called after every EM iteration as ``callback(iteration, loglik, max_change)``: the
        iteration count, the log-likelihood at the parameters the iteration started from and
        the largest absolute parameter change it made (for progress display; an exception it
        raises stops the calibration).
    check_dimensionality : bool
        Before calibrating, check that the items form one dimension
        (:func:`psychometrics.factor.check_unidimensionality`: first/second eigenvalue
        ratio, ECV and a one-factor CFA on polychoric correlations) and emit a
        :class:`ModelWarning` when they clearly do not; the calibration goes on.

    Returns
    -------
    Calibration

    Raises
    ------
    ResponseError
        Bad responses; a group vector of the wrong length, with missing labels, with one
        level, or a group smaller than ``min_group_size``.
    ValueError
        Bad settings (unknown invariance terms, freed parameters an item lacks...).

    Notes
    -----
    E-step: expected counts :math:`\bar r_{jqk}` from the posterior of each person over the
    nodes (:mod:`psychometrics.estep`); with groups, each group's persons are integrated
    against that group's normal weights :math:`N(\mu_g, \sigma^2_g)` and the counts add up.
    M-step: for each item,
    :math:`\max_\xi \sum_{q,k} \bar r_{jqk} \log P_{jk}(\theta_q; \xi) + \log p(\xi)` by Newton
    steps with the model's analytic gradient and Hessian, batched over items with the same
    model and number of categories; an item freed across groups is estimated as one item per
    group (on that group's counts), parameters still equal across groups sharing one value.
    Latent parameters: :math:`\mu_g = \sum_q N_{gq}\theta_q / N_g`,
    :math:`\sigma^2_g = \sum_q N_{gq}(\theta_q-\mu_g)^2 / N_g` with :math:`N_{gq}` the
    expected number of persons of group g at node q. Where every item fixes its slope (rasch,
    pcm, rsm) the latent variance is estimated in every group.
    Standard errors: the observed information is the Jacobian of the Fisher-identity score
    :math:`\nabla_\xi Q(\xi \mid \xi')|_{\xi'=\xi}` (Oakes, 1999), obtained by central
    differences; IRT-form SEs by the delta method.

    References
    ----------
    .. [1] Bock & Aitkin (1981), Psychometrika 46, 443-459.
    .. [2] Varadhan & Roland (2008), Scand. J. Statistics 35, 335-353 (SQUAREM).
    .. [3] Oakes (1999), JRSS B 61, 479-482.
    .. [4] Bock, R. D. & Zimowski, M. F. (1997). Multiple group IRT. In van der Linden &
           Hambleton (Eds.), Handbook of Modern Item Response Theory (pp. 433-448). Springer.
    .. [5] Chalmers (2012), J. Statistical Software 48(6): ``multipleGroup``.
    """
    if _dispatch.is_dask(responses):
        return _dispatch.backend().calibrate(
            responses, model, group=group, reference=reference, invariance=invariance, free=free,
            free_items=free_items, estimate_latent=estimate_latent, latent_mean=latent_mean,
            latent_variance=latent_variance, min_group_size=min_group_size, quadrature_points=quadrature_points,
            tol=tol, max_iter=max_iter, se=se, priors=priors, fixed=fixed, weights=weights, start=start,
            accelerate=accelerate, newton_steps=newton_steps, callback=callback,
            check_dimensionality=check_dimensionality)
    if isinstance(group, str) and isinstance(responses, pd.DataFrame) and group in responses.columns:
        labels_in: Any = responses[group]
        responses = responses.drop(columns=group)
    else:
        labels_in = group
    # The calibration reports what matters to it (persons without responses, constant or
    # empty items) itself; the loader's generic data warnings would say it twice.
    resp = as_responses(responses, warn=False)
    if check_dimensionality:
        # factor analysis sits beside IRT, not below it: imported only when asked for
        from psychometrics.factor.dimensionality import check_unidimensionality

        check_unidimensionality(resp, {"calibrated items": resp.item_ids})
    return _calibrate(resp, model, group=labels_in, reference=reference, invariance=invariance, free=free,
                      free_items=free_items, estimate_latent=estimate_latent, latent_mean=latent_mean,
                      latent_variance=latent_variance, min_group_size=min_group_size,
                      quadrature_points=quadrature_points, tol=tol, max_iter=max_iter, se=se, priors=priors,
                      fixed=fixed, weights=weights, start=start, accelerate=accelerate,
                      newton_steps=newton_steps, callback=callback)


def _group_labels(group: Any, resp: Responses, reference: Any, min_size: int) -> tuple[list[Any], np.ndarray]:
    """Ordered group labels (reference first) and each person's group index."""
    if isinstance(group, str):
        raise ResponseError(f"group {group!r} is not a column of the responses; pass the labels, one per person")
    series = align_labels(group, resp)
    missing = series.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ResponseError(f"respondent {resp.person_ids[row]!r} (row {row}) has no group label "
                            f"({int(missing.sum())} missing label(s)); drop those persons or label them")
    if isinstance(series.dtype, pd.CategoricalDtype):
        levels = [c for c in series.cat.categories if (series == c).any()]
    else:
        uniques = list(pd.unique(series.to_numpy()))
        try:
            levels = sorted(uniques)
        except TypeError:
            levels = uniques
    if len(levels) < 2:
        raise ResponseError(f"group has one level ({levels[0]!r}); a multi-group calibration needs at least two")
    if reference is not None:
        if reference not in levels:
            raise ResponseError(f"reference group {reference!r} is not among the groups {levels}")
        levels = [reference] + [g for g in levels if g != reference]
    codes = np.full(resp.n_persons, -1, dtype=np.int64)
    values = series.to_numpy(dtype=object)
    for g, label in enumerate(levels):
        codes[values == label] = g
    return levels, codes


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
        if chosen and (getattr(m, "tied", ()) or hasattr(m, "tied_names")):
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


@dataclasses.dataclass(frozen=True)
class _CalibrationData:
    """What the setup and the EM of a calibration need from the responses.

    Plain sums over persons (so partitions of the data can be summarized separately and
    added, :mod:`psychometrics.distributed`), and ``group_data(g, columns, column_items,
    column_categories)``, which gives the E-step input of group ``g`` restricted to its
    estimation ``columns`` (``column_items``: the item of every estimation column).
    """

    item_ids: list[str]
    categories: dict[str, tuple[int, ...]]
    labels: list[Any]              # group labels, reference first; [None] without groups
    n_persons: float               # persons who answered an item (sum of weights)
    group_sizes: np.ndarray        # (groups,) persons who answered an item, unweighted
    category_counts: np.ndarray    # (groups, items, max K) responses in each category (weighted)
    group_data: Callable[[int, np.ndarray, np.ndarray, np.ndarray], _GroupData]


def _data_in_memory(resp: Responses, models: Mapping[str, str], labels: list[Any], group_codes: np.ndarray,
                    weights: np.ndarray | None,
                    stated_categories: Mapping[str, tuple[int, ...]] | None) -> _CalibrationData:
    item_ids = resp.item_ids
    n_groups = len(labels)
    categories, encoded = _prepare(resp, models, stated_categories)
    n_cat = np.array([len(categories[i]) for i in item_ids], dtype=np.int64)

    answered = (encoded >= 0).any(axis=1)
    if not answered.all():
        empty = resp.person_ids[~answered]
        shown = ", ".join(repr(p) for p in list(empty[:5]))
        warnings.warn(f"{int((~answered).sum())} respondent(s) answered no item and are left out of the "
                      f"calibration: {shown}{' ...' if len(empty) > 5 else ''}", DataWarning, stacklevel=4)
        encoded = encoded[answered]
        group_codes = group_codes[answered]
        weights = None if weights is None else weights[answered]
    if encoded.shape[0] == 0:
        raise ResponseError("no respondent answered any item")
    w = np.ones(encoded.shape[0]) if weights is None else weights
    rows_of = [np.flatnonzero(group_codes == g) for g in range(n_groups)]
    counts = np.zeros((n_groups, len(item_ids), int(n_cat.max())))
    for g in range(n_groups):
        rows = rows_of[g] if n_groups > 1 else slice(None)
        for j in range(len(item_ids)):
            col = encoded[rows, j]
            obs = col >= 0
            counts[g, j] = np.bincount(col[obs].astype(np.int64), weights=w[rows][obs], minlength=counts.shape[2])

    def group_data(g: int, cols: np.ndarray, col_items: np.ndarray, col_cat: np.ndarray) -> _GroupData:
        if n_groups == 1:
            work, work_weights = _collapse_patterns(encoded, weights, n_cat)
            return _GroupData(work, work_weights, None, float(w.sum()))
        sub = np.ascontiguousarray(encoded[np.ix_(rows_of[g], col_items[cols])])
        sub_w = None if weights is None else weights[rows_of[g]]
        work, work_weights = _collapse_patterns(sub, sub_w, col_cat[cols])
        return _GroupData(work, work_weights, cols, float(w[rows_of[g]].sum()))

    return _CalibrationData(list(item_ids), categories, labels, float(w.sum()),
                            np.bincount(group_codes, minlength=n_groups), counts, group_data)


def _calibrate(resp: Responses, model: str | Mapping[str, str], *, group: Any = None, reference: Any = None,
               min_group_size: int = MIN_GROUP_SIZE, weights: Any = None,
               stated_categories: Mapping[str, tuple[int, ...]] | None = None, **settings: Any) -> Calibration:
    item_ids = resp.item_ids
    models = _model_mapping(model, item_ids)
    _check_settings(**settings)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if weights.shape[0] != resp.n_persons:
            raise ValueError(f"weights has {weights.shape[0]} values for {resp.n_persons} persons")
        if not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise ValueError("weights must be finite and non-negative")
    if group is None:
        _check_no_group_settings(reference=reference, **settings)
        labels, group_codes = [None], np.zeros(resp.n_persons, dtype=np.int64)
    else:
        labels, group_codes = _group_labels(group, resp, reference, min_group_size)
    data = _data_in_memory(resp, models, labels, group_codes, weights, stated_categories)
    return _fit(data, models, min_group_size=min_group_size, **settings)


def _check_settings(*, quadrature_points: int = 61, tol: float = 1e-4, max_iter: int = 500,
                    callback: Callback | None = None, estimate_latent: bool | None = None,
                    fixed: Mapping[str, Any] | None = None, **_: Any) -> None:
    """Settings that are wrong whatever the data (checked before the data are read)."""
    if int(quadrature_points) != quadrature_points or quadrature_points < 5:
        raise ValueError(f"quadrature_points must be an integer >= 5, got {quadrature_points!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    if estimate_latent not in (None, True, False):
        raise ValueError(f"estimate_latent must be None, True or False, got {estimate_latent!r}")


def _check_no_group_settings(*, reference: Any = None, invariance: Any = None, free: Any = None,
                             free_items: Any = None, **_: Any) -> None:
    if free or free_items or invariance is not None or reference is not None:
        raise ValueError("invariance, free, free_items and reference need group= (a multi-group calibration)")


def _fit(data: _CalibrationData, models: Mapping[str, str], *, invariance: Sequence[str] | None = None,
         free: Mapping[str, Sequence[str]] | None = None, free_items: Sequence[str] | None = None,
         estimate_latent: bool | None = None, latent_mean: Any = None, latent_variance: Any = None,
         min_group_size: int = MIN_GROUP_SIZE, quadrature_points: int = 61, tol: float = 1e-4,
         max_iter: int = 500, se: bool = False, priors: Mapping[str, Any] | None = None,
         fixed: Mapping[str, Mapping[str, float]] | None = None, start: pd.DataFrame | None = None,
         accelerate: bool = True, newton_steps: int = 3, callback: Callback | None = None,
         estep_function: Callable[..., EStep] = estep) -> Calibration:
    """Set up and run the EM of a calibration from the data's sums (:class:`_CalibrationData`);
    ``estep_function`` computes a group's E-step from its ``_GroupData``."""
    item_ids = data.item_ids
    categories = data.categories
    labels = data.labels
    n_groups = len(labels)
    n_persons = data.n_persons
    n_cat = np.array([len(categories[i]) for i in item_ids], dtype=np.int64)
    fixed = dict(fixed or {})
    unknown = [i for i in fixed if i not in set(item_ids)]
    if unknown:
        raise ValueError(f"fixed names item(s) {unknown} that are not in the data")
    if n_groups > 1:
        sizes = data.group_sizes
        small = [(labels[g], int(sizes[g])) for g in range(n_groups) if sizes[g] < min_group_size]
        if small:
            raise ResponseError(f"group(s) {', '.join(f'{g!r} ({n} persons)' for g, n in small)} have fewer than "
                                f"min_group_size={min_group_size} persons who answered an item")
    freed = (_freed_parameters(item_ids, models, n_cat, invariance, free, free_items, fixed)
             if n_groups > 1 else {})
    per_item_priors = _parse_priors(priors, item_ids)
    matched_priors: set[tuple[str, str]] = set()

    # estimation columns: one per item, or one per item and group where parameters are freed
    columns: list[tuple[int, int]] = []
    for j, item in enumerate(item_ids):
        if item in freed:
            columns.extend((j, g) for g in range(n_groups))
        else:
            columns.append((j, -1))
    col_items = np.array([j for j, _ in columns], dtype=np.int64)
    col_groups = np.array([g for _, g in columns], dtype=np.int64)
    col_cat = n_cat[col_items]

    blocks: list[_Block] = []
    unused_in_group: list[tuple[str, Any, list[int]]] = []

    def item_of(c: int) -> str:
        return item_ids[columns[c][0]]

    keys: dict[tuple[str, int, bool], list[int]] = {}
    for c, (j, g) in enumerate(columns):
        item = item_ids[j]
        partial = item in freed and len(freed[item]) < len(_movable(models[item], int(n_cat[j]), item, fixed))
        keys.setdefault((models[item], int(n_cat[j]), partial), []).append(c)
    first_slot = 0
    for (name, k, partial), positions in keys.items():
        m = get_model(name)
        positions_arr = np.asarray(positions)
        props = np.zeros((len(positions), k))
        for r, c in enumerate(positions):
            j, g = columns[c]
            props[r] = (data.category_counts[g] if g >= 0 else data.category_counts.sum(axis=0))[j, :k]
            if g >= 0 and (props[r] == 0).any():
                # a category unused in one group: smooth the start, not the estimate
                unused_in_group.append((item_of(c), labels[g],
                                        [categories[item_of(c)][h] for h in np.flatnonzero(props[r] == 0)]))
                props[r] += 0.5
        props /= props.sum(axis=1, keepdims=True)
        params = np.asarray(m.data_start_values(k, props), dtype=np.float64).copy()
        names = m.parameter_names(k)
        fixed_mask = np.zeros(params.shape, dtype=bool)
        for ci, nm in enumerate(names):
            if nm in m.fixed_values:
                params[:, ci] = m.fixed_values[nm]
                fixed_mask[:, ci] = True
        items_here = [item_ids[columns[c][0]] for c in positions]
        if start is not None:
            for r, item in enumerate(items_here):
                if item in start.index:
                    for ci, nm in enumerate(names):
                        if nm in start.columns and pd.notna(start.loc[item, nm]) and not fixed_mask[r, ci]:
                            params[r, ci] = float(start.loc[item, nm])
        for r, item in enumerate(items_here):
            if item in fixed:
                for nm, val in _fixed_values(m, k, item, fixed[item]).items():
                    ci = names.index(nm)
                    params[r, ci] = val
                    fixed_mask[r, ci] = True
        share = None
        if partial:
            share = np.full(params.shape, -1, dtype=np.int64)
            for r, c in enumerate(positions):
                j = columns[c][0]
                for ci, nm in enumerate(names):
                    if nm not in freed[item_ids[j]]:
                        share[r, ci] = j
        prior = _prior_arrays(names, items_here, per_item_priors, matched_priors)
        block = _Block(m, k, positions_arr, params, fixed_mask, prior, first_slot, share)
        first_slot += block.n_slots
        blocks.append(block)

    _check_priors_applied(priors, item_ids, matched_priors)
    if unused_in_group:
        shown = "; ".join(f"item {i!r} in group {g!r}: category {', '.join(map(str, cats))}"
                          for i, g, cats in unused_in_group[:5])
        warnings.warn(f"freed item(s) with categories unused in a group ({shown}); their group-specific "
                      "intercepts drift without bound and likelihood-ratio or Wald tests of them are not "
                      "trustworthy", ModelWarning, stacklevel=4)
    groups = [data.group_data(g, np.flatnonzero((col_groups == -1) | (col_groups == g)), col_items, col_cat)
              for g in range(n_groups)]

    # latent parameters: which are estimated
    rasch_like = all(get_model(models[i]).estimates_latent_variance for i in item_ids)
    means = _per_group(latent_mean, labels, 0.0, "latent_mean")
    variances = _per_group(latent_variance, labels, 1.0, "latent_variance")
    if not np.all(variances > 0) or not np.all(np.isfinite(means)):
        raise ValueError("latent variances must be positive and latent means finite")
    mean_free = np.zeros(n_groups, dtype=bool)
    variance_free = np.full(n_groups, rasch_like)
    terms = [] if invariance is None else [str(t) for t in invariance]
    if estimate_latent is True:
        if not fixed:
            raise ValueError("estimate_latent=True needs fixed item parameters (anchor items) to set the scale")
        mean_free[:] = True
        variance_free[:] = True
    elif estimate_latent is None and n_groups > 1:
        equal_item = any(i not in freed for i in item_ids)
        equal_slope = rasch_like or any(
            any(n.startswith("a") and n not in freed.get(i, ()) and n not in get_model(models[i]).fixed_values
                for n in get_model(models[i]).parameter_names(int(n_cat[j])))
            for j, i in enumerate(item_ids))
        mean_free[1:] = equal_item or "free_means" in terms
        variance_free[1:] = equal_slope or "free_var" in terms
    elif estimate_latent is False:
        variance_free[:] = rasch_like

    nodes = np.linspace(-6.0, 6.0, int(quadrature_points))
    problem = _Problem(blocks, groups, nodes, col_cat, means, variances, mean_free, variance_free, newton_steps,
                       estep_function)
    x0 = problem.pack()
    step_tol = tol * 1e-2
    runner = _squarem if accelerate else _plain_em
    x, history, converged, n_iter = runner(problem, x0, tol, int(max_iter), step_tol, callback)
    problem.unpack(x)
    final = problem.expectation()
    loglik = final.loglik
    if not converged:
        warnings.warn(f"EM did not converge in {n_iter} iterations (tol {tol:g}); the estimates are not "
                      "trustworthy, raise max_iter or check the data", ConvergenceWarning, stacklevel=4)

    n_free = problem.size
    column_labels = [(item_ids[j], "*" if g < 0 else labels[g]) for j, g in columns]
    ref_columns = [c for c, (_, g) in enumerate(columns) if g <= 0]   # shared or reference copy
    se_result = None
    if se:
        se_result = _standard_errors(problem, x, column_labels, labels, ref_columns, item_ids)

    # parameters of every estimation column, then per group
    si_col: list[dict[str, float]] = [{} for _ in columns]
    irt_col: list[dict[str, float]] = [{} for _ in columns]
    for b in blocks:
        names = b.model.parameter_names(b.k)
        irt_names = b.model.irt_parameter_names(b.k)
        irt = b.model.to_irt(b.params)
        for r, c in enumerate(b.positions):
            si_col[c] = dict(zip(names, map(float, b.params[r])))
            irt_col[c] = dict(zip(irt_names, map(float, irt[r])))
    column_of = {(j, g): c for c, (j, g) in enumerate(columns)}

    def rows_for(g: int, table: list[dict[str, float]]) -> list[dict[str, float]]:
        return [table[column_of.get((j, g), column_of.get((j, -1)))] for j in range(len(item_ids))]

    si_frames = [_frame(item_ids, rows_for(g, si_col)) for g in range(n_groups)]
    irt_frames = [_frame(item_ids, rows_for(g, irt_col)) for g in range(n_groups)]
    multi = n_groups > 1
    index = pd.Index(labels, name="group") if multi else None

    def latent(values: np.ndarray) -> Any:
        return pd.Series(values, index=index, dtype=np.float64) if multi else float(values[0])

    se_frames = (None, None) if se_result is None else (se_result[0], se_result[1])
    return Calibration(
        item_ids=list(item_ids), models=models, categories=categories,
        item_params=irt_frames[0], slope_intercept=si_frames[0],
        loglik=float(loglik), aic=float(-2.0 * loglik + 2.0 * n_free),
        bic=float(-2.0 * loglik + n_free * math.log(n_persons)), n_iter=int(n_iter),
        converged=bool(converged), latent_mean=latent(problem.means),
        latent_variance=latent(problem.variances),
        history=tuple(float(h) for h in history), quadrature_points=int(quadrature_points),
        n_persons=n_persons, n_parameters=int(n_free), standard_errors=se_frames[0],
        irt_standard_errors=se_frames[1],
        latent_variance_se=latent(se_result[3]) if se_result is not None else (
            pd.Series(np.nan, index=index) if multi else math.nan),
        tol=float(tol), groups=tuple(labels) if multi else (),
        group_item_params=dict(zip(labels, irt_frames)) if multi else None,
        group_slope_intercept=dict(zip(labels, si_frames)) if multi else None,
        freed={i: tuple(p) for i, p in freed.items()},
        covariance=None if se_result is None else se_result[4],
        latent_mean_se=latent(se_result[2]) if se_result is not None else (
            pd.Series(np.nan, index=index) if multi else math.nan),
    )


def _movable(model_name: str, k: int, item: str, fixed: Mapping[str, Any]) -> list[str]:
    m = get_model(model_name)
    held = set(m.fixed_values) | set(_fixed_values(m, k, item, fixed[item]) if item in fixed else ())
    return [n for n in m.parameter_names(k) if n not in held]


def _plain_em(problem: _Problem, x0: np.ndarray, tol: float, max_iter: int, step_tol: float,
              callback: Callback | None = None):
    history: list[float] = []
    x = x0
    for n_iter in range(1, max_iter + 1):
        new, ll = problem.em_map(x, step_tol)
        history.append(ll)
        _report(callback, n_iter, ll, new - x)
        done = x.size == 0 or np.max(np.abs(new - x)) < tol
        x = new
        if done:
            return x, history, True, n_iter
    return x, history, False, max_iter


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


def _slot_bounds_and_labels(problem: _Problem, column_labels: list[tuple[str, Any]], groups: list[Any]):
    lower = np.full(problem.size, -np.inf)
    upper = np.full(problem.size, np.inf)
    labels: list[tuple[str, str, Any] | None] = [None] * problem.size
    slot_columns: list[set[int]] = [set() for _ in range(problem.size)]
    for b in problem.blocks:
        names = b.model.parameter_names(b.k)
        rows, cols = np.nonzero(b.free)
        for r, c in zip(rows, cols):
            slot = b.slot[r, c]
            lower[slot], upper[slot] = b.lower[c], b.upper[c]
            slot_columns[slot].add(int(b.positions[r]))
            if labels[slot] is None:
                item, group = column_labels[b.positions[r]]
                labels[slot] = (item, names[c], group)
    for slot in range(problem.n_item_slots):
        # a parameter shared by the copies of an item in several groups belongs to all groups
        item, name, group = labels[slot]
        if len(slot_columns[slot]) > 1 and group != "*":
            labels[slot] = (item, name, "*")
    for s, (g, kind) in enumerate(problem.latent_slots):
        slot = problem.n_item_slots + s
        labels[slot] = ("latent", kind, "*" if groups[g] is None else groups[g])
        if kind == "variance":
            lower[slot] = 0.0
    return lower, upper, labels


def _describe(label: tuple[str, str, Any]) -> str:
    item, name, group = label
    where = "" if group == "*" else f" (group {group!r})"
    return f"latent {name}{where}" if item == "latent" else f"item {item!r} {name}{where}"


def _standard_errors(problem: _Problem, x: np.ndarray, column_labels: list[tuple[str, Any]],
                     groups: list[Any], ref_columns: list[int], item_ids: list[str]):
    """Observed information as the finite-difference Jacobian of the Fisher-identity score.

    Parameters on a bound (a guessing parameter at 0) have no standard error: they are left out
    of the information matrix and reported as NaN with a warning. Returns the SE frames of the
    reference group's item parameters (slope-intercept, IRT), the SEs of the latent means and
    variances per group and the labelled covariance matrix.
    """
    size = problem.size
    lower, upper, labels = _slot_bounds_and_labels(problem, column_labels, groups)
    at_bound = (x <= lower + 1e-8) | (x >= upper - 1e-8)
    if at_bound.any():
        shown = ", ".join(_describe(labels[s]) for s in np.flatnonzero(at_bound)[:6])
        warnings.warn(f"standard errors are NaN for parameters on a bound of their range: {shown}"
                      f"{' ...' if at_bound.sum() > 6 else ''}", ModelWarning, stacklevel=5)
    keep = np.flatnonzero(~at_bound)
    centre = problem.score(x)
    jac = np.empty((size, keep.size))
    for col, s in enumerate(keep):
        h = 1e-4 * max(1.0, abs(x[s]))
        up, down = x.copy(), x.copy()
        if x[s] - h < lower[s]:
            up[s] += h
            jac[:, col] = (problem.score(up) - centre) / h
        elif x[s] + h > upper[s]:
            down[s] -= h
            jac[:, col] = (centre - problem.score(down)) / h
        else:
            up[s] += h
            down[s] -= h
            jac[:, col] = (problem.score(up) - problem.score(down)) / (2.0 * h)
    problem.unpack(x)
    sub = jac[keep]
    info = -0.5 * (sub + sub.T)
    cov = np.full((size, size), np.nan)
    try:
        np.linalg.cholesky(info)
        cov[np.ix_(keep, keep)] = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        warnings.warn("the information matrix is not positive definite; standard errors are NaN "
                      "(a parameter may be unidentified)", ModelWarning, stacklevel=5)
    var = np.diag(cov)
    n_columns = len(column_labels)
    si_rows: list[dict[str, float]] = [{} for _ in range(n_columns)]
    irt_rows: list[dict[str, float]] = [{} for _ in range(n_columns)]
    # delta method: numerical Jacobian of the IRT form with respect to the packed slots
    base_irt = [b.model.to_irt(b.params) for b in problem.blocks]
    djac = []
    for s in range(size):
        h = 1e-6 * max(1.0, abs(x[s]))
        moved = x.copy()
        moved[s] += h
        problem.unpack(moved)
        djac.append([(b.model.to_irt(b.params) - base) / h for b, base in zip(problem.blocks, base_irt)])
        problem.unpack(x)
    for bi, b in enumerate(problem.blocks):
        names = b.model.parameter_names(b.k)
        irt_names = b.model.irt_parameter_names(b.k)
        if size:
            d = np.stack([djac[s][bi] for s in range(size)], axis=-1)   # (n, pi, size)
        else:
            d = np.zeros(base_irt[bi].shape + (0,))
        irt_var = np.einsum("nps,st,npt->np", d, np.nan_to_num(cov), d)
        # an IRT parameter built from a parameter without SE has none either
        unknown = np.einsum("nps,s->np", np.abs(d), np.isnan(var).astype(float)) > 0
        irt_var = np.where(unknown, np.nan, irt_var)
        for r, c in enumerate(b.positions):
            si_rows[c] = {nm: (float(np.sqrt(var[b.slot[r, ci]])) if b.free[r, ci] else math.nan)
                          for ci, nm in enumerate(names)}
            depends = np.abs(d[r]).sum(axis=1) > 0
            irt_rows[c] = {nm: (float(np.sqrt(max(irt_var[r, ci], 0.0)))
                                if depends[ci] and not np.isnan(irt_var[r, ci]) else math.nan)
                           for ci, nm in enumerate(irt_names)}
    n_groups = len(groups)
    mean_se = np.full(n_groups, np.nan)
    var_se = np.full(n_groups, np.nan)
    for s, (g, kind) in enumerate(problem.latent_slots):
        value = float(np.sqrt(var[problem.n_item_slots + s]))
        (mean_se if kind == "mean" else var_se)[g] = value
    index = pd.MultiIndex.from_tuples(labels, names=["item", "parameter", "group"])
    covariance = pd.DataFrame(cov, index=index, columns=index)
    ref_si = [si_rows[c] for c in ref_columns]
    ref_irt = [irt_rows[c] for c in ref_columns]
    return _frame(item_ids, ref_si), _frame(item_ids, ref_irt), mean_se, var_se, covariance
