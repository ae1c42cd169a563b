"""The result of a calibration: :class:`Calibration`, the item parameters and what later verbs
(scoring, fit, DIF, linking, simulation) need from them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from psychometrics.data import as_responses, category_index
from psychometrics.errors import ResponseError
from psychometrics.irt import document
from psychometrics.irt.document import _frame
from psychometrics.irt.layout import ParameterLayout
from psychometrics.irt.prepare import (
    _category_codes,
    _fixed_names,
    _infer_categories,
    _model_mapping,
)
from psychometrics.items import ItemModel, get_model


@dataclass(frozen=True)
class _Group:
    """Items sharing a model and a number of categories, as positions in the calibration."""

    model: ItemModel
    n_categories: int
    positions: np.ndarray
    params: np.ndarray


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
    priors : DataFrame or None
        The priors the estimation used, one row per (item, slope-intercept parameter):
        ``item``, ``parameter``, ``kind`` (normal, lognormal, beta), ``p1``, ``p2`` and
        ``source``: ``"given"`` (``calibrate(priors=...)``) or ``"default"`` (a model's own,
        :meth:`~psychometrics.items.base.ItemModel.default_priors`: nominal items with more
        than 10 categories). Empty without priors; None where not recorded (stated
        parameters, calibrations read back from JSON, multidimensional calibrations).
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
    factors : tuple of str
        Factor names of a multidimensional calibration (``calibrate(factors=...)`` or
        ``bifactor=``); empty for a unidimensional one. Its :attr:`slope_intercept` has slopes
        ``a1..aD`` (in the order of ``factors``; 0 where an item does not load) and intercepts
        ``d`` / ``d1..``; there is no IRT form, :attr:`item_params` repeats the slope-intercept one.
    factor_correlations : DataFrame or None
        Factors x factors correlations of the latent traits (unit variances); after an oblique
        rotation, the rotated factors' correlations.
    factor_correlations_se : DataFrame or None
        Their standard errors (``se=True``; NaN where fixed).
    rotation : str or None
        Rotation of an exploratory calibration.
    factor_model : str
        ``""`` (unidimensional), ``"confirmatory"``, ``"exploratory"``, ``"bifactor"`` or
        ``"two-tier"``.
    loglik_se : float
        Integration error of :attr:`loglik` where it is a Monte Carlo estimate (more than
        three factors: adaptive or quasi-Monte Carlo points); NaN for quadrature.
    effective_points : dict or None
        Calibrations on adaptive or quasi-Monte Carlo points (more than three factors): the
        effective number of integration points of the persons' posteriors at the final E-step,
        1 / sum_q w_iq^2 with normalized posterior weights w_iq, as
        ``{"median": ..., "p05": ..., "points": Q}`` over persons (Q: points per person for
        adaptive points; docs/multidimensional.md); None for quadrature.
    factor_means, factor_covariances : DataFrame or None
        Multi-group multidimensional calibration: the factor means of every group (groups x
        factors; the reference group's are 0) and their covariance matrices (rows ``(group,
        factor)``, columns factors; the reference group's has unit variances and the
        estimated correlations). None for a single group.
    factor_means_se, factor_covariances_se : DataFrame or None
        Their standard errors (``se=True``; NaN where fixed).
    general_factors : tuple of str
        The general factors of a two-tier model (the first factors); empty otherwise.
    parameter_layout : ParameterLayout
        Every parameter free, shared or fixed and its slot in the estimate vector
        (:mod:`psychometrics.irt.layout`): :attr:`n_parameters`, the fit statistics' degrees
        of freedom, the standard errors and the JSON document read it. For stated parameters,
        the layout the models imply.
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
    priors: pd.DataFrame | None = None
    groups: tuple = ()
    group_item_params: dict | None = None
    group_slope_intercept: dict | None = None
    freed: dict = dataclasses.field(default_factory=dict)
    covariance: pd.DataFrame | None = None
    latent_mean_se: Any = math.nan
    factors: tuple = ()
    factor_correlations: pd.DataFrame | None = None
    factor_correlations_se: pd.DataFrame | None = None
    rotation: str | None = None
    factor_model: str = ""
    loglik_se: float = math.nan
    factor_means: pd.DataFrame | None = None
    factor_covariances: pd.DataFrame | None = None
    factor_means_se: pd.DataFrame | None = None
    factor_covariances_se: pd.DataFrame | None = None
    general_factors: tuple = ()
    parameter_layout: ParameterLayout | None = None
    effective_points: dict | None = None

    def __post_init__(self) -> None:
        if self.parameter_layout is None:
            object.__setattr__(self, "parameter_layout", ParameterLayout.stated(
                self.item_ids, self.models, [len(self.categories[i]) for i in self.item_ids]))

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
        layout = ParameterLayout.stated(item_ids, models, [len(cats[i]) for i in item_ids])
        return cls(item_ids=item_ids, models=models, categories=cats,
                   item_params=_frame(item_ids, irt_rows), slope_intercept=_frame(item_ids, si_rows),
                   latent_mean=float(latent_mean), latent_variance=float(latent_variance),
                   converged=True, n_iter=0, n_parameters=layout.n_parameters, parameter_layout=layout)

    # -- derived structure -----------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @functools.cached_property
    def n_categories(self) -> np.ndarray:
        """(n_items,) number of categories per item."""
        return np.array([len(self.categories[i]) for i in self.item_ids], dtype=np.int64)

    @property
    def is_multidimensional(self) -> bool:
        """Whether the calibration has factors (``calibrate(factors=...)`` or ``bifactor=``)."""
        return bool(self.factors)

    @property
    def n_factors(self) -> int:
        """Number of latent dimensions (1 for a unidimensional calibration)."""
        return max(1, len(self.factors))

    @functools.cached_property
    def loadings(self) -> pd.DataFrame:
        r"""Standardized loadings, items x factors: :math:`\lambda_{jm} = (a_{jm}/1.702) /
        \sqrt{1 + \mathbf a_j^\top\Phi\mathbf a_j/1.702^2}` (mirt's ``summary``); one column
        ``F1`` for a unidimensional calibration."""
        from psychometrics.items.multidimensional import standardized_loadings

        names = list(self.factors) or ["F1"]
        slopes = self.slope_intercept[[f"a{m}" for m in range(1, len(names) + 1)]].to_numpy(dtype=np.float64)
        corr = (np.eye(len(names)) if self.factor_correlations is None
                else self.factor_correlations.to_numpy(dtype=np.float64))
        if not self.is_multidimensional and not self.is_multigroup:
            # a unidimensional trait with variance s^2 is the standard trait times s
            slopes = slopes * math.sqrt(float(self.latent_variance))
        return pd.DataFrame(standardized_loadings(slopes, corr), index=pd.Index(self.item_ids, name="item"),
                            columns=names)

    @functools.cached_property
    def _groups(self) -> list[_Group]:
        keys: dict[tuple[str, int], list[int]] = {}
        for j, item in enumerate(self.item_ids):
            keys.setdefault((self.models[item], int(self.n_categories[j])), []).append(j)
        groups = []
        for (name, k), positions in keys.items():
            m = get_model(name)
            if self.is_multidimensional:
                from psychometrics.items.multidimensional import MultidimensionalModel

                m = MultidimensionalModel(m, len(self.factors))
            cols = m.parameter_names(k)
            params = self.slope_intercept.iloc[positions][cols].to_numpy(dtype=np.float64)
            groups.append(_Group(m, k, np.asarray(positions), params))
        return groups

    def _check_theta(self, theta: np.ndarray) -> None:
        if len(self.factors) > 1 and (theta.ndim != 2 or theta.shape[1] != len(self.factors)):
            raise ValueError(f"this calibration has {len(self.factors)} factors {list(self.factors)}: theta must be "
                             f"(points, {len(self.factors)}), got shape {theta.shape}; verbs written for one latent "
                             "trait (item and model fit, sum-score tables, marginal reliability, plausible values, "
                             "simulation) do not apply to multidimensional calibrations in this version")

    def log_probabilities(self, theta: np.ndarray) -> np.ndarray:
        """Log category probabilities (n_items, Q, max K); ``-inf`` for k >= K of an item.
        ``theta`` is (Q,) or, for a multidimensional calibration, (Q, D)."""
        theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
        self._check_theta(theta)
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
        self._check_theta(theta)
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
        from psychometrics import _fastscan

        if values.size >= _fastscan.FAST_FROM:
            if _fastscan.category_indices(values, [self.categories[item] for item in resp.item_ids],
                                          [position[item] for item in resp.item_ids], out):
                return out
            out[:] = -1   # it stopped at a value that is none of the item's codes: named below
        for col, item in enumerate(resp.item_ids):
            out[:, position[item]] = category_index(values[:, col], self.categories[item], item=item,
                                                    position=resp.column_of(item), person_ids=resp.person_ids)[0]
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
        if self.factors:
            raise ValueError("a group of a multi-group multidimensional calibration has its own factor means and "
                             "covariances (factor_means, factor_covariances), which a single-group calibration cannot "
                             "hold; score with irt.score(calibration, responses, group=...), the item parameters are "
                             "the same in every group (slope_intercept)")
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
            groups=(), group_item_params=None, group_slope_intercept=None, freed={}, covariance=None,
            parameter_layout=self.parameter_layout.for_group(group))

    # -- presentation ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        models = ",".join(sorted(set(self.models.values())))
        groups = f", {len(self.groups)} groups" if self.is_multigroup else ""
        if self.factors:
            groups += f", {len(self.factors)} factors ({self.factor_model})"
        fit = "" if math.isnan(self.loglik) else f", loglik={self.loglik:.3f}"
        state = "converged" if self.converged else "NOT converged"
        return (f"Calibration({self.n_items} items {models}{groups}, n_persons={self.n_persons:g}, "
                f"n_parameters={self.n_parameters}{fit}, {state})")

    def to_frame(self) -> pd.DataFrame:
        """Item parameters in IRT form with the model of each item (and SEs when computed)."""
        frame = self.item_params.copy()
        frame.insert(0, "model", pd.Series(self.models))
        if self.irt_standard_errors is not None:
            frame = frame.join(self.irt_standard_errors.add_suffix("_se"))
        return frame

    @property
    def problems(self) -> pd.DataFrame:
        """Blown-up, implausible or undetermined estimates: columns ``item``, ``parameter``,
        ``value``, ``problem`` (bounds and sources in :mod:`psychometrics.irt.problems`);
        empty when there are none. :func:`calibrate` also emits each as a ModelWarning."""
        from psychometrics.irt.problems import find_problems

        return find_problems(self)

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
        if self.is_multigroup and self.factors:
            lines += [f"groups (reference {self.groups[0]!r}): factor means", self.factor_means.round(3).to_string(),
                      "", "factor covariances", self.factor_covariances.round(3).to_string(), ""]
        elif self.is_multigroup:
            latent = pd.DataFrame({"mean": self.latent_mean, "variance": self.latent_variance})
            lines += [f"groups (reference {self.groups[0]!r}):", latent.round(3).to_string(), ""]
            if self.freed:
                lines += ["freed across groups: " + "; ".join(f"{i} ({', '.join(p)})" for i, p in self.freed.items()),
                          ""]
        if self.factors:
            lines += [f"factors ({self.factor_model}" + (f", {self.rotation} rotation" if self.rotation else "")
                      + "): correlations", self.factor_correlations.round(3).to_string(), "",
                      "standardized loadings", self.loadings.round(3).to_string(), ""]
        lines.append(self.to_frame().round(3).to_string())
        if self.priors is not None and len(self.priors):
            lines += ["", _describe_priors(self.priors)]
        problems = self.problems
        if len(problems):
            from psychometrics.irt.problems import describe

            lines += ["", f"{len(problems)} problem(s):"]
            lines += [f"  {describe(row, self.n_parameters)}" for _, row in problems.iterrows()]
        return "\n".join(lines)

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self) -> str:
        """JSON text of the calibration (versioned schema, :mod:`psychometrics.irt.document`);
        :meth:`from_json` reads it back exactly. Multi-group calibrations are written group by
        group (:meth:`for_group`)."""
        return document.dump(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Calibration":
        """Read a calibration written by :meth:`to_json`.

        Raises
        ------
        ValueError
            When the text is not a calibration document of a supported schema version (the
            message says which field is wrong).
        """
        return cls(**document.load(text))


def _describe_priors(priors: pd.DataFrame) -> str:
    """One line on the priors of a calibration, saying which were defaults."""
    given = priors[priors["source"] == "given"]
    default = priors[priors["source"] == "default"]
    parts = []
    if len(given):
        parts.append(f"{len(given)} given prior(s) on {given['item'].nunique()} item(s)")
    if len(default):
        items = list(dict.fromkeys(default["item"]))
        shown = ", ".join(items[:5]) + (" ..." if len(items) > 5 else "")
        parts.append(f"default prior ak_k ~ N(k, {float(default['p2'].iloc[0]):g}) on the category scores of "
                     f"{len(items)} nominal item(s) with more than 10 categories ({shown}); "
                     "priors={'ak': None} turns it off")
    return "priors: " + "; ".join(parts) + " (Calibration.priors lists them)"
