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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pydantic

from psychometrics.data import Responses, as_responses
from psychometrics.errors import ConvergenceWarning, DataWarning, ModelWarning, ResponseError
from psychometrics.estep import EStep, estep
from psychometrics.items import MODELS, ItemModel, get_model
from psychometrics.quadrature import normal_log_weights

__all__ = ["Calibration", "calibrate", "SCHEMA_VERSION"]

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
    latent_mean, latent_variance : float
        Of the normal latent distribution (the variance is estimated for rasch/pcm/rsm).
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
    latent_variance_se: float = math.nan
    tol: float = 1e-4

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
        resp = as_responses(responses)
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
            f"(tol {self.tol:g}); latent mean {self.latent_mean:.3f}, variance {self.latent_variance:.3f}",
            "",
            self.to_frame().round(3).to_string(),
        ]
        return "\n".join(lines)

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self) -> str:
        """JSON text of the calibration (versioned schema); :meth:`from_json` reads it back
        exactly."""
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
                 first_slot: int) -> None:
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
            else:
                slot[free_rows, col] = n + np.arange(free_rows.size)
                n += free_rows.size
        self.lower = np.array([model.bounds.get(nm, (-np.inf, np.inf))[0] for nm in names])
        self.upper = np.array([model.bounds.get(nm, (-np.inf, np.inf))[1] for nm in names])
        self.slot = slot
        self.n_slots = n - first_slot
        self.first_slot = first_slot
        self.free = slot >= 0
        self.has_tied = bool(self.tied) and self.free[:, self.tied].any()

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


class _Problem:
    """The EM map of one calibration: packed parameters -> E-step -> M-step."""

    def __init__(self, blocks: list[_Block], encoded: np.ndarray, weights: np.ndarray | None,
                 nodes: np.ndarray, n_categories: np.ndarray, latent_mean: float,
                 latent_variance: float, estimate_variance: bool, newton_steps: int) -> None:
        self.blocks = blocks
        self.encoded = encoded
        self.weights = weights
        self.nodes = nodes
        self.n_items = encoded.shape[1]
        self.max_k = int(n_categories.max())
        self.latent_mean = latent_mean
        self.latent_variance = latent_variance
        self.estimate_variance = estimate_variance
        self.newton_steps = newton_steps
        self.n_item_slots = sum(b.n_slots for b in blocks)
        self.size = self.n_item_slots + (1 if estimate_variance else 0)
        self.n_estep = 0

    def pack(self) -> np.ndarray:
        x = np.empty(self.size)
        for b in self.blocks:
            b.pack(x)
        if self.estimate_variance:
            x[-1] = self.latent_variance
        return x

    def unpack(self, x: np.ndarray) -> None:
        for b in self.blocks:
            b.unpack(x)
        if self.estimate_variance:
            self.latent_variance = float(x[-1])

    def log_probabilities(self) -> np.ndarray:
        out = np.full((self.n_items, self.nodes.shape[0], self.max_k), -np.inf)
        for b in self.blocks:
            out[b.positions, :, :b.k] = b.model.log_probabilities(b.params, self.nodes)
        return out

    def expectation(self) -> EStep:
        self.n_estep += 1
        log_prior = normal_log_weights(self.nodes, self.latent_mean, self.latent_variance)
        return estep(self.encoded, self.log_probabilities(), log_prior, self.weights)

    def maximization(self, e: EStep, step_tol: float) -> None:
        for b in self.blocks:
            b.mstep(self.nodes, e.counts[b.positions, :, :b.k], self.newton_steps, step_tol)
        if self.estimate_variance:
            centred = self.nodes - self.latent_mean
            self.latent_variance = max(float(e.node_counts @ (centred * centred)) / e.n_persons, 1e-4)

    def valid(self, x: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(x))) and (not self.estimate_variance or x[-1] > 1e-4)

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
        if self.estimate_variance:
            v = self.latent_variance
            sq = (self.nodes - self.latent_mean) ** 2
            prior = np.exp(normal_log_weights(self.nodes, self.latent_mean, v))
            out[-1] = float(e.node_counts @ (sq - prior @ sq)) / (2.0 * v * v)
        return out


def _squarem(problem: _Problem, x0: np.ndarray, tol: float, max_iter: int,
             step_tol: float) -> tuple[np.ndarray, list[float], bool, int]:
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
        if np.max(np.abs(r)) < tol:
            return x1, history, True, n_iter
        if n_iter >= max_iter:
            return x1, history, False, n_iter
        x2, ll1 = problem.em_map(x1, step_tol)
        n_iter += 1
        history.append(ll1)
        v = (x2 - x1) - r
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


def _prior_arrays(names: list[str], items: list[str], per_item: Mapping[str, Mapping[str, tuple]]):
    kind = np.zeros((len(items), len(names)), dtype=np.int64)
    p1 = np.zeros(kind.shape)
    p2 = np.ones(kind.shape)
    for r, item in enumerate(items):
        for key, (k, a, b) in per_item.get(item, {}).items():
            for c, name in enumerate(names):
                # "d" also covers d1, d2, ... (all intercepts of a polytomous item)
                if name == key or (name.startswith(key) and name[len(key):].isdigit() and key[-1:].isalpha()):
                    kind[r, c], p1[r, c], p2[r, c] = _PRIOR_KINDS[k], a, b
    return kind, p1, p2


def _prepare(resp: Responses, models: Mapping[str, str]):
    """Category codes per item (collapsing unused ones), encoded matrix, dropped persons."""
    values = resp.values
    item_ids = resp.item_ids
    categories: dict[str, tuple[int, ...]] = {}
    for j, item in enumerate(item_ids):
        col = values[:, j]
        seen = np.unique(col[~np.isnan(col)])
        if seen.size == 0:
            raise ResponseError(f"item {item!r} (column {j}) has no responses; remove it before calibrating")
        if seen.size == 1:
            raise ResponseError(f"item {item!r} (column {j}) is constant (every response is {seen[0]:g}); "
                                "it carries no information about the trait, remove it before calibrating")
        noninteger = seen[seen != np.round(seen)]
        if noninteger.size:
            raise ResponseError(f"item {item!r} (column {j}): value {noninteger[0]} is not an integer category code")
        codes = tuple(int(v) for v in seen)
        admissible = tuple(resp.categories.get(item, codes))
        outside = [c for c in codes if c not in admissible]
        if outside:
            raise ResponseError(f"item {item!r} (column {j}): value {outside[0]} is outside the admissible "
                                f"categories {admissible}")
        unused = [c for c in admissible if c not in codes]
        if unused:
            warnings.warn(f"item {item!r}: category {', '.join(map(str, unused))} never used; collapsed, the "
                          f"item is calibrated with categories {codes}", ModelWarning, stacklevel=3)
        model = get_model(models[item])
        try:
            model.check_categories(len(codes))
        except ValueError as exc:
            raise ResponseError(f"item {item!r} (column {j}) has {len(codes)} observed categories {codes}: {exc}") from None
        categories[item] = codes
    encoded = np.full(values.shape, -1, dtype=np.int8 if max(map(len, categories.values())) < 127 else np.int32)
    for j, item in enumerate(item_ids):
        encoded[:, j] = _encode_column(values[:, j], categories[item], item, j, resp.person_ids)
    return categories, encoded


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


def calibrate(responses: Any, model: str | Mapping[str, str] = "2pl", *, quadrature_points: int = 61,
              tol: float = 1e-4, max_iter: int = 500, se: bool = False,
              priors: Mapping[str, Any] | None = None,
              fixed: Mapping[str, Mapping[str, float]] | None = None,
              weights: Any = None, start: pd.DataFrame | None = None,
              accelerate: bool = True, newton_steps: int = 3) -> Calibration:
    r"""Calibrate item response models by marginal maximum likelihood (Bock-Aitkin EM).

    Parameters
    ----------
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN = missing (any pattern: missing responses are absent from the
        likelihood, never imputed).
    model : str or mapping
        A registered model name (``"rasch"``, ``"1pl"``, ``"2pl"``, ``"3pl"``, ``"4pl"``,
        ``"graded"``, ``"gpcm"``, ``"pcm"``, ``"rsm"``, ``"nominal"``) or item -> name.
    quadrature_points : int
        Equally spaced nodes on [-6, 6] (mirt's default 61).
    tol : float
        Convergence when the largest absolute change of a parameter in one EM step is below
        ``tol`` (mirt's criterion).
    max_iter : int
        Most EM iterations; reaching it emits a :class:`ConvergenceWarning` and sets
        ``converged=False``.
    se : bool
        Compute standard errors (Oakes identity, both parameterizations, delta method).
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
        Starting values in slope-intercept form (as :attr:`Calibration.slope_intercept`).
    accelerate : bool
        SQUAREM extrapolation of the EM map.
    newton_steps : int
        Most Newton steps per item per M-step.

    Returns
    -------
    Calibration

    Notes
    -----
    E-step: expected counts :math:`\bar r_{jqk}` from the posterior of each person over the
    nodes (:mod:`psychometrics.estep`). M-step: for each item,
    :math:`\max_\xi \sum_{q,k} \bar r_{jqk} \log P_{jk}(\theta_q; \xi) + \log p(\xi)` by Newton
    steps with the model's analytic gradient and Hessian, batched over items with the same
    model and number of categories. Where every item fixes its slope (rasch, pcm, rsm) the
    latent variance is estimated: :math:`\sigma^2 = \sum_q N_q (\theta_q-\mu)^2 / N`.
    Standard errors: the observed information is the Jacobian of the Fisher-identity score
    :math:`\nabla_\xi Q(\xi \mid \xi')|_{\xi'=\xi}` (Oakes, 1999), obtained by central
    differences; IRT-form SEs by the delta method.

    References
    ----------
    .. [1] Bock & Aitkin (1981), Psychometrika 46, 443-459.
    .. [2] Varadhan & Roland (2008), Scand. J. Statistics 35, 335-353 (SQUAREM).
    .. [3] Oakes (1999), JRSS B 61, 479-482.
    """
    resp = as_responses(responses)
    item_ids = resp.item_ids
    models = _model_mapping(model, item_ids)
    if int(quadrature_points) != quadrature_points or quadrature_points < 5:
        raise ValueError(f"quadrature_points must be an integer >= 5, got {quadrature_points!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if weights.shape[0] != resp.n_persons:
            raise ValueError(f"weights has {weights.shape[0]} values for {resp.n_persons} persons")
        if not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise ValueError("weights must be finite and non-negative")
    categories, encoded = _prepare(resp, models)
    n_cat = np.array([len(categories[i]) for i in item_ids], dtype=np.int64)

    answered = (encoded >= 0).any(axis=1)
    if not answered.all():
        empty = resp.person_ids[~answered]
        shown = ", ".join(repr(p) for p in list(empty[:5]))
        warnings.warn(f"{int((~answered).sum())} respondent(s) answered no item and are left out of the "
                      f"calibration: {shown}{' ...' if len(empty) > 5 else ''}", DataWarning, stacklevel=2)
        encoded = encoded[answered]
        weights = None if weights is None else weights[answered]
    if encoded.shape[0] == 0:
        raise ResponseError("no respondent answered any item")
    n_persons = float(encoded.shape[0] if weights is None else weights.sum())
    work, work_weights = _collapse_patterns(encoded, weights, n_cat)

    # proportions per category for data-based starting values
    w = np.ones(encoded.shape[0]) if weights is None else weights
    fixed = dict(fixed or {})
    unknown = [i for i in fixed if i not in set(item_ids)]
    if unknown:
        raise ValueError(f"fixed names item(s) {unknown} that are not in the data")
    per_item_priors = _parse_priors(priors, item_ids)

    blocks: list[_Block] = []
    keys: dict[tuple[str, int], list[int]] = {}
    for j, item in enumerate(item_ids):
        keys.setdefault((models[item], int(n_cat[j])), []).append(j)
    first_slot = 0
    for (name, k), positions in keys.items():
        m = get_model(name)
        positions_arr = np.asarray(positions)
        props = np.zeros((len(positions), k))
        for r, j in enumerate(positions):
            obs = encoded[:, j] >= 0
            props[r] = np.bincount(encoded[obs, j].astype(np.int64), weights=w[obs], minlength=k)
        props /= props.sum(axis=1, keepdims=True)
        params = np.asarray(m.data_start_values(k, props), dtype=np.float64).copy()
        names = m.parameter_names(k)
        fixed_mask = np.zeros(params.shape, dtype=bool)
        for c, nm in enumerate(names):
            if nm in m.fixed_values:
                params[:, c] = m.fixed_values[nm]
                fixed_mask[:, c] = True
        items_here = [item_ids[j] for j in positions]
        if start is not None:
            for r, item in enumerate(items_here):
                if item in start.index:
                    for c, nm in enumerate(names):
                        if nm in start.columns and pd.notna(start.loc[item, nm]) and not fixed_mask[r, c]:
                            params[r, c] = float(start.loc[item, nm])
        for r, item in enumerate(items_here):
            if item in fixed:
                values = _fixed_values(m, k, item, fixed[item])
                for nm, val in values.items():
                    c = names.index(nm)
                    params[r, c] = val
                    fixed_mask[r, c] = True
        prior = _prior_arrays(names, items_here, per_item_priors)
        block = _Block(m, k, positions_arr, params, fixed_mask, prior, first_slot)
        first_slot += block.n_slots
        blocks.append(block)

    nodes = np.linspace(-6.0, 6.0, int(quadrature_points))
    estimate_variance = all(get_model(models[i]).estimates_latent_variance for i in item_ids)
    problem = _Problem(blocks, work, work_weights, nodes, n_cat, 0.0, 1.0, estimate_variance, newton_steps)
    x0 = problem.pack()
    step_tol = tol * 1e-2
    if accelerate:
        x, history, converged, n_iter = _squarem(problem, x0, tol, int(max_iter), step_tol)
    else:
        x, history, converged, n_iter = _plain_em(problem, x0, tol, int(max_iter), step_tol)
    problem.unpack(x)
    final = problem.expectation()
    loglik = final.loglik
    if not converged:
        warnings.warn(f"EM did not converge in {n_iter} iterations (tol {tol:g}); the estimates are not "
                      "trustworthy, raise max_iter or check the data", ConvergenceWarning, stacklevel=2)

    n_free = problem.size
    se_frames = (None, None, math.nan)
    if se:
        se_frames = _standard_errors(problem, x, item_ids)

    si_rows, irt_rows = [{} for _ in item_ids], [{} for _ in item_ids]
    for b in blocks:
        names = b.model.parameter_names(b.k)
        irt_names = b.model.irt_parameter_names(b.k)
        irt = b.model.to_irt(b.params)
        for r, j in enumerate(b.positions):
            si_rows[j] = dict(zip(names, map(float, b.params[r])))
            irt_rows[j] = dict(zip(irt_names, map(float, irt[r])))
    return Calibration(
        item_ids=list(item_ids), models=models, categories=categories,
        item_params=_frame(item_ids, irt_rows), slope_intercept=_frame(item_ids, si_rows),
        loglik=float(loglik), aic=float(-2.0 * loglik + 2.0 * n_free),
        bic=float(-2.0 * loglik + n_free * math.log(n_persons)), n_iter=int(n_iter),
        converged=bool(converged), latent_mean=0.0, latent_variance=float(problem.latent_variance),
        history=tuple(float(h) for h in history), quadrature_points=int(quadrature_points),
        n_persons=n_persons, n_parameters=int(n_free), standard_errors=se_frames[0],
        irt_standard_errors=se_frames[1], latent_variance_se=float(se_frames[2]), tol=float(tol),
    )


def _plain_em(problem: _Problem, x0: np.ndarray, tol: float, max_iter: int, step_tol: float):
    history: list[float] = []
    x = x0
    for n_iter in range(1, max_iter + 1):
        new, ll = problem.em_map(x, step_tol)
        history.append(ll)
        done = np.max(np.abs(new - x)) < tol
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


def _slot_bounds_and_labels(problem: _Problem, item_ids: list[str]):
    lower = np.full(problem.size, -np.inf)
    upper = np.full(problem.size, np.inf)
    labels = [""] * problem.size
    for b in problem.blocks:
        names = b.model.parameter_names(b.k)
        rows, cols = np.nonzero(b.free)
        for r, c in zip(rows, cols):
            slot = b.slot[r, c]
            lower[slot], upper[slot] = b.lower[c], b.upper[c]
            if not labels[slot]:
                labels[slot] = f"item {item_ids[b.positions[r]]!r} {names[c]}"
    if problem.estimate_variance:
        lower[-1], labels[-1] = 0.0, "latent variance"
    return lower, upper, labels


def _standard_errors(problem: _Problem, x: np.ndarray, item_ids: list[str]):
    """Observed information as the finite-difference Jacobian of the Fisher-identity score.

    Parameters on a bound (a guessing parameter at 0) have no standard error: they are left out
    of the information matrix and reported as NaN with a warning.
    """
    size = problem.size
    lower, upper, labels = _slot_bounds_and_labels(problem, item_ids)
    at_bound = (x <= lower + 1e-8) | (x >= upper - 1e-8)
    if at_bound.any():
        shown = ", ".join(labels[s] for s in np.flatnonzero(at_bound)[:6])
        warnings.warn(f"standard errors are NaN for parameters on a bound of their range: {shown}"
                      f"{' ...' if at_bound.sum() > 6 else ''}", ModelWarning, stacklevel=3)
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
                      "(a parameter may be unidentified)", ModelWarning, stacklevel=3)
    var = np.diag(cov)
    si_rows = [{} for _ in item_ids]
    irt_rows = [{} for _ in item_ids]
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
        n, p = b.params.shape
        pi = base_irt[bi].shape[1]
        d = np.stack([djac[s][bi] for s in range(size)], axis=-1)   # (n, pi, size)
        irt_var = np.einsum("nps,st,npt->np", d, np.nan_to_num(cov), d)
        # an IRT parameter built from a parameter without SE has none either
        unknown = np.einsum("nps,s->np", np.abs(d), np.isnan(var).astype(float)) > 0
        irt_var = np.where(unknown, np.nan, irt_var)
        for r, j in enumerate(b.positions):
            si_rows[j] = {nm: (float(np.sqrt(var[b.slot[r, c]])) if b.free[r, c] else math.nan)
                          for c, nm in enumerate(names)}
            depends = np.abs(d[r]).sum(axis=1) > 0
            irt_rows[j] = {nm: (float(np.sqrt(max(irt_var[r, c], 0.0))) if depends[c] and not np.isnan(irt_var[r, c])
                                else math.nan)
                           for c, nm in enumerate(irt_names)}
    var_se = float(np.sqrt(var[-1])) if problem.estimate_variance else math.nan
    return _frame(item_ids, si_rows), _frame(item_ids, irt_rows), var_se
