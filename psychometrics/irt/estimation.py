r"""Marginal maximum likelihood calibration of item response models (Bock-Aitkin EM).

:func:`calibrate` fits any mix of the registered item models (:data:`psychometrics.items.MODELS`)
to a response matrix with any pattern of missing responses and returns a :class:`Calibration`:
item parameters in IRT and slope-intercept form, log-likelihood, information criteria, latent
mean and variance, convergence history and, on request, standard errors.

The pipeline, one step per module; :func:`_calibrate` reads setup -> run -> standard errors
-> assemble:

- :mod:`psychometrics.irt.prepare` checks the settings against the data: category codes,
  encoded responses, priors, groups, freed and fixed parameters;
- :mod:`psychometrics.quadrature` puts 61 equally spaced nodes on [-6, 6] with normal weights;
- :mod:`psychometrics.estep` turns the one-hot responses and the item log-probabilities into
  expected counts (matrix products, chunked over persons, plain sums);
- :mod:`psychometrics.irt.em` runs the EM map (SQUAREM around it);
- :mod:`psychometrics.irt.mstep` takes Newton steps with the models' analytic derivatives, batched over the
  items that share a model and a number of categories; parameters common to several items (the
  1PL slope, rating-scale thresholds) are updated jointly; SQUAREM extrapolation accelerates the
  EM map; convergence is mirt's: the largest absolute change of a parameter in one EM step is
  below ``tol``;
- :mod:`psychometrics.irt.standard_errors` gives the observed information (Oakes) and the
  delta-method SEs; :mod:`psychometrics.irt.result` holds the :class:`Calibration` and
  :mod:`psychometrics.irt.document` its JSON form.

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

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psychometrics import _dispatch, _fastscan
from psychometrics.data import Responses, as_responses
from psychometrics.errors import ConvergenceWarning, DataWarning, ModelWarning, ResponseError
from psychometrics.estep import EStep, estep
from psychometrics.irt.document import _frame
from psychometrics.irt.layout import ParameterLayout
from psychometrics.irt.em import Callback, _GroupData, _plain_em, _Problem, _squarem
from psychometrics.irt.mstep import MIN_LATENT_VARIANCE, _Block
from psychometrics.irt.prepare import (
    MIN_GROUP_SIZE,
    _check_priors_applied,
    _collapse_patterns,
    _default_priors,
    _fixed_values,
    _freed_parameters,
    _group_labels,
    _model_mapping,
    _movable,
    _parse_priors,
    _per_group,
    _discover_categories,
    _prepare,
    _prior_arrays,
    _priors_in_effect,
)
from psychometrics._blas import single_threaded_blas
from psychometrics.irt.problems import check_identified, warn_problems
from psychometrics.irt.result import Calibration
from psychometrics.irt.standard_errors import _standard_errors
from psychometrics.items import get_model
from psychometrics.quadrature import grid_nodes

__all__ = ["calibrate"]


def calibrate(responses: Any, model: str | Mapping[str, str] = "2pl", *, group: Any = None,
              reference: Any = None, invariance: Sequence[str] | None = None,
              free: Mapping[str, Sequence[str]] | None = None, free_items: Sequence[str] | None = None,
              estimate_latent: bool | None = None, latent_mean: Any = None, latent_variance: Any = None,
              min_group_size: int = MIN_GROUP_SIZE, quadrature_points: int | None = None,
              tol: float = 1e-4, max_iter: int = 500, se: bool = False,
              priors: Mapping[str, Any] | None = None,
              fixed: Mapping[str, Mapping[str, float]] | None = None,
              weights: Any = None, start: pd.DataFrame | None = None,
              accelerate: bool = True, newton_steps: int = 3,
              callback: Callable[[int, float, float], Any] | None = None,
              check_dimensionality: bool = False,
              factors: Mapping[str, Sequence[str]] | int | None = None, correlated: bool = True,
              bifactor: Mapping[str, Sequence[str]] | None = None, rotation: str | None = None,
              general: str | Mapping[str, Sequence[str]] | None = None,
              integration: str | None = None) -> Calibration:
    r"""Calibrate item response models by marginal maximum likelihood (Bock-Aitkin EM).

    Parameters
    ----------
    responses : DataFrame, ndarray, Responses or Dask DataFrame
        Persons x items; NaN = missing (any pattern: missing responses are absent from the
        likelihood, never imputed). A Dask DataFrame is calibrated partition by partition
        (:func:`psychometrics.distributed.calibrate`: E-steps on the workers, the same EM path);
        ``group`` then names its column of group labels.
    model : str or mapping
        A registered model name (``"rasch"``, ``"1pl"``, ``"2pl"``, ``"3pl"``, ``"4pl"``,
        ``"graded"``, ``"gpcm"``, ``"pcm"``, ``"rsm"``, ``"nominal"``) or item -> name.
    group : array-like, Series or str, optional
        Group label of every person (a Series is aligned on the respondent ids when its index
        holds them, else taken in row order; a string names a column of the ``responses``
        DataFrame). Gives a multi-group calibration: each group has its own normal latent
        distribution; the reference group's is N(0, 1).
    reference : optional
        The reference group; default the largest group, a tie going to the first level (the
        first category of a categorical, else the smallest label), as everywhere groups are
        compared (:func:`psychometrics.groups.resolve_groups`).
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
    quadrature_points : int, optional
        Equally spaced nodes on [-6, 6] per dimension. Default (``None``): mirt's 61 for one
        dimension; for multidimensional models 31 (2 factors), 15 (3 factors), 21 for bifactor
        and two-tier models; beyond 3 factors 128 points per person (``integration="adaptive"``)
        or 2000 shared quasi-Monte Carlo points (``"qmc"``). An explicit value is always honoured.
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
        ``{item: {name: spec}}`` for one item. Priors act on slope-intercept parameters. A spec
        ``None`` means no prior: nominal items with more than 10 categories otherwise get
        ``ak_k ~ N(k, 1)`` on their category scores
        (:meth:`~psychometrics.items.nominal.NominalModel.default_priors`; ``{"ak": None}``
        turns it off). :attr:`Calibration.priors` lists the priors in effect.
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
    factors : mapping or int, optional
        Multidimensional calibration (:mod:`psychometrics.irt.multidimensional`).
        ``{"communication": [items], "teamwork": [items], ...}``: confirmatory model, each item
        loads on the factors that list it (slopes ``a1..aD`` in that order); factor variances
        are 1 and their correlations are estimated. An integer: exploratory model with that
        many factors, rotated by ``rotation``. Up to 3 factors: tensor-product quadrature of
        ``quadrature_points`` per dimension (default 31 for 2 and 15 for 3); beyond, see
        ``integration``.
    correlated : bool
        Estimate the correlations of confirmatory factors (default); ``False``: orthogonal.
    bifactor : mapping, optional
        ``{"s1": [items], ...}``: a general factor on every item plus one specific factor per
        group, orthogonal, integrated by dimension reduction (two-dimensional quadrature
        whatever the number of specific factors). Items listed nowhere load on the general
        factor only.
    rotation : str, optional
        Rotation of an exploratory model's slopes (:func:`psychometrics.factor.efa.rotate`,
        default ``"oblimin"``).
    general : str or mapping, optional
        With ``bifactor=``: the general factor's name (default ``"general"``), or
        ``{"g1": [items], "g2": [items]}`` for a two-tier model (Cai, 2010): up to two
        correlated general factors, each on the items it lists, plus the specific factors
        (cost of (G+1)-dimensional quadrature by dimension reduction).
    integration : {"grid", "qmc", "adaptive"}, optional
        How a correlated-factors model integrates over the factors: ``"grid"``, a
        tensor-product grid (default up to 3 factors); ``"adaptive"``, points of each person's
        own around its posterior, adaptive importance sampling (default of confirmatory models
        beyond 3 factors; ``quadrature_points`` = points per person, default 128); ``"qmc"``,
        quasi-Monte Carlo points of the prior shared by all persons (default of exploratory
        models beyond 3 factors; ``quadrature_points`` = points, default 2,000). See
        docs/multidimensional.md.

    Multidimensional models take ``group=`` too (confirmatory and bifactor/two-tier): items are
    equal across groups, the reference group's factors have means 0 and variances 1 (their
    correlations estimated), each focal group's factor means and covariances are estimated
    (``estimate_latent=False``: every group has the reference group's distribution); see
    :attr:`Calibration.factor_means` and :attr:`Calibration.factor_covariances`.

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
        quadrature_points = 61 if quadrature_points is None else quadrature_points
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
    if factors is not None or bifactor is not None:
        ignored = [name for name, value in (("latent_mean", latent_mean), ("latent_variance", latent_variance),
                                            ("invariance", invariance), ("free", free), ("free_items", free_items))
                   if value is not None]
        if ignored:
            raise ValueError(f"{', '.join(ignored)} do(es) not apply to multidimensional calibrations: items are "
                             "equal across groups, the reference group's factors have means 0 and variances 1 "
                             "and the focal groups' means and covariances are estimated")
        from psychometrics.irt.multidimensional import calibrate_multidimensional

        return calibrate_multidimensional(
            resp, model, factors=factors, bifactor=bifactor, general=general, correlated=correlated,
            rotation=rotation, quadrature_points=quadrature_points, tol=tol,
            max_iter=max_iter, se=se, priors=priors, fixed=fixed, weights=weights, start=start,
            accelerate=accelerate, newton_steps=newton_steps, callback=callback, group=labels_in,
            reference=reference, min_group_size=min_group_size, estimate_latent=estimate_latent,
            integration=integration)
    if general is not None:
        raise ValueError("general= applies to bifactor and two-tier models (bifactor=...)")
    if integration is not None:
        raise ValueError("integration= applies to multidimensional calibrations (factors=...)")
    if check_dimensionality:
        # factor analysis sits beside IRT, not below it: imported only when asked for
        from psychometrics.factor.dimensionality import check_unidimensionality

        check_unidimensionality(resp, {"calibrated items": resp.item_ids})
    check_identified(resp.item_ids)
    if quadrature_points is None:
        quadrature_points = 61
    # the M-step's small dense eigen/solve calls (items x P x P) stall on a multithreaded BLAS
    # when the cores are shared (12x for P = 100); one context for the whole run
    with single_threaded_blas():
        calibration = _calibrate(resp, model, group=labels_in, reference=reference, invariance=invariance, free=free,
                                 free_items=free_items, estimate_latent=estimate_latent, latent_mean=latent_mean,
                                 latent_variance=latent_variance, min_group_size=min_group_size,
                                 quadrature_points=quadrature_points, tol=tol, max_iter=max_iter, se=se, priors=priors,
                                 fixed=fixed, weights=weights, start=start, accelerate=accelerate,
                                 newton_steps=newton_steps, callback=callback)
    # a stopped EM is not a trustworthy estimate: blown-up parameters are named (Calibration.problems)
    warn_problems(calibration)
    return calibration


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

    counts = None
    if n_groups == 1 and encoded.size >= _fastscan.SETUP_FAST_FROM:   # one compiled pass
        counts, answered = _fastscan.category_counts(encoded, int(n_cat.max()), weights)
        counts = counts[None]
    else:
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
    if counts is None:
        counts = np.zeros((n_groups, len(item_ids), int(n_cat.max())))
        for g in range(n_groups):
            rows = rows_of[g] if n_groups > 1 else slice(None)
            for j in range(len(item_ids)):
                col = encoded[rows, j]
                obs = col >= 0
                counts[g, j] = np.bincount(col[obs].astype(np.int64), weights=w[rows][obs],
                                           minlength=counts.shape[2])

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
    default_priors: list[tuple[str, str, str, float, float]] = []
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
        prior, added = _default_priors(m, k, names, items_here, per_item_priors, prior)
        default_priors.extend(added)
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

    nodes = grid_nodes(quadrature_points)
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
    floored = [labels[g] for g in range(n_groups)
               if variance_free[g] and problem.variances[g] <= MIN_LATENT_VARIANCE * (1.0 + 1e-9)]
    if floored:
        where = "" if n_groups == 1 else f" of group(s) {', '.join(map(repr, floored))}"
        warnings.warn(f"the latent variance{where} is held at its floor {MIN_LATENT_VARIANCE:g}: the persons "
                      "do not spread on the trait; the estimates are not trustworthy", ModelWarning, stacklevel=4)

    column_labels = [(item_ids[j], "*" if g < 0 else labels[g]) for j, g in columns]
    layout = ParameterLayout.from_blocks(
        blocks, column_labels, [("*" if labels[g] is None else labels[g], kind) for g, kind in problem.latent_slots],
        problem.n_item_slots)
    n_free = layout.n_parameters
    ref_columns = [c for c, (_, g) in enumerate(columns) if g <= 0]   # shared or reference copy
    se_result = None
    if se:
        se_result = _standard_errors(problem, x, layout, len(column_labels), labels, ref_columns, item_ids)

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
        n_persons=n_persons, n_parameters=int(n_free), parameter_layout=layout, standard_errors=se_frames[0],
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
        priors=_priors_in_effect(blocks, column_labels, default_priors),
    )
