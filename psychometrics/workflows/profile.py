r"""The instrument's scales as one correlated-factors model (``validate --model mirt``).

:func:`profile_model` calibrates every scale with at least two items as one factor of a
confirmatory multidimensional model (:func:`psychometrics.irt.calibrate` with ``factors=``),
scores the respondents' profiles (EAP, one ``theta``/``se`` per scale) and reports the factor
correlations and each scale's reliability in that model, so that a scale with few items is
measured with the help of the correlated others.

Reliability of scale s in the profile model is reported twice: the model's marginal
reliability per factor (:func:`~psychometrics.irt.multidimensional_scoring.factor_marginal_reliability`,
the multidimensional form of :func:`psychometrics.scoring.marginal_reliability`), and the
empirical (EAP) reliability

.. math:: \rho_s = \frac{\operatorname{Var}(\hat\theta_s)}{\operatorname{Var}(\hat\theta_s) +
          \overline{SE^2_s}}

(du Toit, 2003; mirt's ``empirical_rxx``); each is comparable to the same statistic of the
scale's own unidimensional calibration.

:func:`score_profiles` scores respondents with the per-scale calibrations of an item bank as one
correlated-factors model (``psychometrics score --model mirt``): the item parameters are the
bank's, only the correlations between the scales are estimated (from the responses being
scored), so every scale keeps its metric (T = 50 + 10 theta) and borrows strength from the
others through the correlations.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.data import Responses
from psychometrics.errors import ConvergenceWarning, DataWarning, ModelWarning, PsychometricsError, ResponseError

__all__ = ["ProfileIRT", "ProfileScores", "profile_model", "score_profiles", "MIRT", "HIGH_CORRELATION"]

#: The ``model`` value of :func:`psychometrics.workflows.validation.validate` that adds the profile model.
MIRT = "mirt"

#: Factor correlation above which two scales are reported as possibly not distinct.
HIGH_CORRELATION = 0.90

#: Columns of :attr:`ProfileIRT.reliability`.
RELIABILITY_COLUMNS = ["marginal_profile", "marginal_alone", "profile", "alone", "se_profile", "se_alone"]

#: Item models that become multidimensional as they are; others are calibrated as these.
_SUBSTITUTES = {"rasch": "2pl", "1pl": "2pl", "pcm": "gpcm", "rsm": "gpcm"}


@dataclass(frozen=True)
class ProfileIRT:
    """The scales as one correlated-factors model.

    Attributes
    ----------
    calibration : Calibration or None
        None when the calibration failed (``error`` says why).
    factor_correlations : DataFrame or None
        Scale x scale correlations of the latent traits.
    reliability : DataFrame or None
        Per scale: ``marginal_profile`` (marginal reliability of the scale's factor in the
        profile model), ``marginal_alone`` (marginal reliability of the scale's own
        unidimensional calibration, where given), ``profile`` (empirical reliability of the
        profile EAPs), ``alone`` (the same statistic from the scale's own unidimensional
        scores, where given), ``se_profile`` and ``se_alone`` (mean posterior SDs).
    scores : DataFrame or None
        ``theta_<scale>``, ``se_<scale>``, ``n_answered``, ``flag`` per respondent.
    messages : tuple of str
        Warnings raised by the calibration (convergence, collapsed categories).
    error : str
    """

    calibration: Any
    factor_correlations: pd.DataFrame | None
    reliability: pd.DataFrame | None
    scores: pd.DataFrame | None
    messages: tuple[str, ...] = ()
    error: str = ""

    def __repr__(self) -> str:
        if self.calibration is None:
            return f"ProfileIRT(error={self.error!r})"
        n_scales = 0 if self.factor_correlations is None else self.factor_correlations.shape[0]
        n_persons = 0 if self.scores is None else len(self.scores)
        return f"ProfileIRT(scales={n_scales}, persons={n_persons}, loglik={self.calibration.loglik:.4f})"

    def to_frame(self) -> pd.DataFrame:
        """Per scale: the profile model's and the scale's own reliability and mean SEs (empty on error)."""
        if self.reliability is None:
            return pd.DataFrame(columns=RELIABILITY_COLUMNS)
        return self.reliability.copy()

    def summary(self) -> str:
        if self.calibration is None:
            return f"profile model: not fitted ({self.error})"
        lines = [f"profile model: {self.factor_correlations.shape[0]} correlated scales, "
                 f"logLik {self.calibration.loglik:.2f}"]
        if self.reliability is not None:
            for scale, row in self.reliability.iterrows():
                alone = row.get("marginal_alone", math.nan)
                lines.append(f"  {scale}: marginal reliability {row['marginal_profile']:.3f} in the profile model"
                             + (f", {alone:.3f} alone" if pd.notna(alone) else ""))
        lines.extend(f"  note: {message}" for message in self.messages)
        return "\n".join(lines)


def _empirical(theta: pd.Series, se: pd.Series) -> float:
    ok = theta.notna() & se.notna()
    if ok.sum() < 2:
        return math.nan
    var = float(theta[ok].var(ddof=1))
    return var / (var + float((se[ok] ** 2).mean()))


def profile_model(responses: Responses, scales: Mapping[str, Sequence[str]], models: Mapping[str, str],
                  alone: Mapping[str, pd.DataFrame | None] | None = None, *,
                  alone_reliability: Mapping[str, float] | None = None,
                  quadrature_points: int | None = None, max_iter: int = 500) -> ProfileIRT:
    """Calibrate and score the scales as one correlated-factors model (module docstring).

    Parameters
    ----------
    responses : Responses
        Prepared (keyed, scored) responses.
    scales : mapping
        Scale id -> item ids; scales with fewer than two items are left out.
    models : mapping
        Scale id -> item model (``graded``, ``2pl``, ``gpcm``...); models without a free slope
        are calibrated as their free-slope counterparts (rasch -> 2pl, pcm/rsm -> gpcm).
    alone : mapping, optional
        Scale id -> its unidimensional EAP scores (``theta``, ``se``), for the comparison.
    alone_reliability : mapping, optional
        Scale id -> marginal reliability of its unidimensional calibration, for the comparison.
    quadrature_points : int, optional
        Passed to :func:`psychometrics.irt.calibrate` (per dimension up to three scales; number
        of quasi-Monte Carlo points beyond).
    """
    from psychometrics.irt import calibrate, score
    from psychometrics.irt.multidimensional_scoring import factor_marginal_reliability

    used = {s: list(items) for s, items in scales.items() if len(items) >= 2}
    if len(used) < 2:
        return ProfileIRT(None, None, None, None, (), "a profile model needs at least two scales with two or "
                                                        "more items")
    item_models = {item: _SUBSTITUTES.get(models[s], models[s]) for s, items in used.items() for item in items}
    items = list(item_models)
    sub = responses.subset(items)
    kwargs: dict[str, Any] = {} if quadrature_points is None else {"quadrature_points": quadrature_points}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cal = calibrate(sub, item_models, factors=used, max_iter=max_iter, **kwargs)
            scores = score(cal, sub)
            marginal = factor_marginal_reliability(cal)
        except (PsychometricsError, ValueError, np.linalg.LinAlgError) as exc:
            return ProfileIRT(None, None, None, None, (), str(exc).splitlines()[0])
    messages = tuple(str(w.message) for w in caught
                     if issubclass(w.category, (ConvergenceWarning, ModelWarning)))
    rows = {}
    for s in used:
        row = {"marginal_profile": float(marginal[s]),
               "marginal_alone": float((alone_reliability or {}).get(s, math.nan)),
               "profile": _empirical(scores[f"theta_{s}"], scores[f"se_{s}"]),
               "se_profile": float(scores[f"se_{s}"].mean())}
        own = None if alone is None else alone.get(s)
        if own is not None:
            row["alone"] = _empirical(own["theta"], own["se"])
            row["se_alone"] = float(own["se"].mean())
        rows[s] = row
    reliability = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=RELIABILITY_COLUMNS)
    reliability.index.name = "scale"
    return ProfileIRT(cal, cal.factor_correlations, reliability, scores, messages)


def high_correlations(profile: ProfileIRT, threshold: float = HIGH_CORRELATION) -> list[tuple[str, str, float]]:
    """Pairs of scales whose factor correlation exceeds ``threshold`` (they may not be distinct)."""
    if profile.factor_correlations is None:
        return []
    corr = profile.factor_correlations
    names = list(corr.index)
    return [(a, b, float(corr.loc[a, b])) for i, a in enumerate(names) for b in names[i + 1:]
            if abs(float(corr.loc[a, b])) > threshold]


@dataclass(frozen=True)
class ProfileScores:
    """Scores of the scales of an item bank as one correlated-factors model.

    Attributes
    ----------
    scores : DataFrame
        Per respondent and scale: ``<scale>_theta``, ``_se``, ``_T`` (50 + 10 theta),
        ``_percentile`` (100 Phi(theta)), ``_n_answered``, ``_flag`` (the columns of the
        unidimensional ``score`` command).
    factor_correlations : DataFrame
        Scale x scale latent correlations used.
    comparison : DataFrame
        Per scale: ``se_alone`` (mean SE of the scale scored on its own), ``se_profile`` (mean
        SE in the profile), ``se_gain`` (relative reduction, 1 - se_profile / se_alone), over
        the respondents with a score.
    loglik : float
        Marginal log-likelihood of the responses at the correlations.
    n_iter : int
        EM iterations of the correlations (0 when given).
    converged : bool
    estimated : bool
        Whether the correlations were estimated from these responses.
    """

    scores: pd.DataFrame
    factor_correlations: pd.DataFrame
    comparison: pd.DataFrame
    loglik: float
    n_iter: int
    converged: bool
    estimated: bool

    def __repr__(self) -> str:
        return (f"ProfileScores(scales={self.factor_correlations.shape[0]}, persons={len(self.scores)}, "
                f"mean se_gain={float(self.comparison['se_gain'].mean()):.3f})")

    def to_frame(self) -> pd.DataFrame:
        """The score table."""
        return self.scores.copy()

    def summary(self) -> str:
        lines = [f"profile scores: {self.factor_correlations.shape[0]} correlated scales, {len(self.scores)} "
                 f"respondents, correlations {'estimated' if self.estimated else 'given'}"]
        for scale, row in self.comparison.iterrows():
            lines.append(f"  {scale}: mean SE {row['se_profile']:.3f} (alone {row['se_alone']:.3f}, "
                         f"{100 * row['se_gain']:.1f}% smaller)")
        return "\n".join(lines)


#: Fewest respondents from which :func:`score_profiles` estimates the scale correlations.
MIN_PERSONS_FOR_CORRELATIONS = 50


def _nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """A positive definite correlation matrix near ``matrix`` (eigenvalues floored, rescaled)."""
    matrix = np.where(np.isfinite(matrix), matrix, 0.0)
    np.fill_diagonal(matrix, 1.0)
    vals, vecs = np.linalg.eigh(0.5 * (matrix + matrix.T))
    fixed = (vecs * np.maximum(vals, 0.05)) @ vecs.T
    scale = np.sqrt(np.diag(fixed))
    return fixed / np.outer(scale, scale)


def score_profiles(calibrations: Any, responses: Responses, *, correlations: pd.DataFrame | None = None,
                   min_answered: int = 1, quadrature_points: int | None = None) -> ProfileScores:
    r"""Score respondents on every scale of an item bank at once, the scales correlated.

    Parameters
    ----------
    calibrations : ItemBank or mapping
        An :class:`~psychometrics.bank.ItemBank` (its collapsed categories are applied) or a
        mapping scale id -> unidimensional :class:`~psychometrics.irt.Calibration`; at least
        two scales, each calibrated with a standard normal trait (2pl, 3pl, 4pl, graded, gpcm,
        nominal; not rasch/pcm/rsm, whose trait variance is estimated).
    responses : Responses
        Prepared (keyed) responses holding the scales' items.
    correlations : DataFrame, optional
        Scale x scale latent correlations (e.g. ``validate(..., model="mirt").profile
        .factor_correlations``); by default estimated from ``responses`` by marginal maximum
        likelihood with the item parameters held at the bank's values (at least
        :data:`MIN_PERSONS_FOR_CORRELATIONS` respondents).
    min_answered : int
        Fewest answered items of a scale for a score on it; respondents with fewer get NaN and
        the flag ``no_responses`` / ``too_few_answers``, as in the unidimensional scores (a
        scale is never scored from the other scales alone).
    quadrature_points : int, optional
        See :func:`psychometrics.irt.multidimensional_scoring.joint_scale_profile`.

    Returns
    -------
    ProfileScores

    Notes
    -----
    With item parameters fixed, the latent traits are :math:`N(\mathbf 0, \boldsymbol\Phi)` and
    each scale's EAP is the mean of the joint posterior
    (:func:`~psychometrics.irt.multidimensional_scoring.joint_scale_profile`). A scale keeps
    the metric of its own calibration (T = 50 + 10 theta); its SE shrinks because the other
    scales, through :math:`\boldsymbol\Phi`, tell where the person's trait is likely to be.
    Flags ``all_lowest``/``all_highest`` are those of the scale scored alone.

    References
    ----------
    .. [1] de la Torre, J. & Patz, R. J. (2005). Making the most of what we have: a practical
           application of multidimensional item response theory in test scoring. *Journal of
           Educational and Behavioral Statistics*, 30, 295-311.
    """
    from scipy.special import ndtr

    from psychometrics.irt import score
    from psychometrics.irt.multidimensional_scoring import joint_scale_profile
    from psychometrics.items import get_model
    from psychometrics.items.multidimensional import supports_slopes

    bank = calibrations if hasattr(calibrations, "scales") and hasattr(calibrations, "apply_collapse") else None
    cals = dict(bank.scales if bank is not None else calibrations)
    if min_answered < 1:
        raise ValueError(f"min_answered must be at least 1, got {min_answered}")
    if len(cals) < 2:
        raise ValueError(f"profile scoring needs at least two scales; got {len(cals)} ({', '.join(cals)})")
    present = set(responses.item_ids)
    for scale, cal in cals.items():
        if getattr(cal, "is_multidimensional", False) or getattr(cal, "is_multigroup", False):
            raise ValueError(f"scale '{scale}': profile scoring takes one unidimensional, single-group calibration "
                             "per scale")
        bad = sorted({cal.models[i] for i in cal.item_ids if not supports_slopes(get_model(cal.models[i]))})
        if bad or not (math.isclose(float(cal.latent_mean), 0.0, abs_tol=1e-12)
                       and math.isclose(float(cal.latent_variance), 1.0, rel_tol=1e-9)):
            raise ValueError(f"scale '{scale}': calibrated with {', '.join(bad) or 'an estimated latent distribution'}"
                             f" (latent mean {float(cal.latent_mean):.3g}, variance {float(cal.latent_variance):.3g}); "
                             "profile scoring needs scales calibrated with a standard normal trait: recalibrate it "
                             "with 2pl, graded or gpcm")
        if not any(i in present for i in cal.item_ids):
            raise ResponseError(f"scale '{scale}': none of its items ({', '.join(cal.item_ids[:5])}"
                                f"{', ...' if len(cal.item_ids) > 5 else ''}) is in the data")
    names = list(cals)
    alone, codes = {}, []
    for scale, cal in cals.items():
        items = [i for i in cal.item_ids if i in present]
        absent = [i for i in cal.item_ids if i not in present]
        if absent:
            warnings.warn(f"scale '{scale}': item(s) {', '.join(absent)} are not in the data and count as "
                          "unanswered", DataWarning, stacklevel=2)
        subset = responses.subset(items)
        if bank is not None:
            subset = bank.apply_collapse(scale, subset)
        alone[scale] = score(cal, subset)
        codes.append(cal.encode(subset))
    if correlations is not None:
        given = pd.DataFrame(correlations)
        missing = [s for s in names if s not in given.index or s not in given.columns]
        if missing:
            raise ValueError(f"correlations: scale(s) {missing} are not in its rows and columns")
        given = given.loc[names, names].to_numpy(dtype=np.float64)
        if not (np.allclose(given, given.T) and np.allclose(np.diag(given), 1.0)
                and np.linalg.eigvalsh(given)[0] > 0):
            raise ValueError("correlations must be a symmetric positive definite matrix with a unit diagonal")
        start = given
    else:
        if responses.n_persons < MIN_PERSONS_FOR_CORRELATIONS:
            raise ValueError(f"{responses.n_persons} respondent(s) are too few to estimate the correlations of "
                             f"{len(names)} scales (at least {MIN_PERSONS_FOR_CORRELATIONS}); pass correlations= "
                             "(e.g. from validate(..., model='mirt').profile.factor_correlations)")
        given = None
        # the scores' own correlation, a little attenuated by shrinkage, is a good start
        thetas = np.column_stack([alone[s]["theta"].to_numpy(dtype=np.float64) for s in names])
        thetas = np.where(np.isfinite(thetas), thetas, np.nan)
        start = _nearest_correlation(pd.DataFrame(thetas).corr(min_periods=3).to_numpy())
    result = joint_scale_profile([cals[s] for s in names], codes, correlations=given, start=start,
                                 quadrature_points=quadrature_points)
    if not result.converged:
        warnings.warn(f"the correlations of the scales did not converge in {result.n_iter} EM iterations",
                      ConvergenceWarning, stacklevel=2)
    columns: dict[str, Any] = {}
    rows = {}
    for m, scale in enumerate(names):
        answered = alone[scale]["n_answered"].to_numpy()
        flag = alone[scale]["flag"].to_numpy(dtype=object).copy()
        flag[(answered > 0) & (answered < min_answered)] = "too_few_answers"
        unusable = answered < min_answered
        theta = np.where(unusable, np.nan, result.theta[:, m])
        se = np.where(unusable, np.nan, result.se[:, m])
        columns[f"{scale}_theta"] = theta
        columns[f"{scale}_se"] = se
        columns[f"{scale}_T"] = 50.0 + 10.0 * theta
        columns[f"{scale}_percentile"] = 100.0 * ndtr(theta)
        columns[f"{scale}_n_answered"] = answered
        columns[f"{scale}_flag"] = flag
        se_alone = float(np.nanmean(np.where(unusable, np.nan, alone[scale]["se"].to_numpy(dtype=np.float64))))
        se_profile = float(np.nanmean(se))
        rows[scale] = {"se_alone": se_alone, "se_profile": se_profile, "se_gain": 1.0 - se_profile / se_alone}
    scores = pd.DataFrame(columns, index=responses.person_ids)
    comparison = pd.DataFrame.from_dict(rows, orient="index")
    comparison.index.name = "scale"
    corr = pd.DataFrame(result.correlations, index=pd.Index(names, name="scale"), columns=names)
    return ProfileScores(scores, corr, comparison, result.loglik, result.n_iter, result.converged,
                         correlations is None)
