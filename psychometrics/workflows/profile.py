r"""The instrument's scales as one correlated-factors model (``validate --model mirt``).

:func:`profile_model` calibrates every scale with at least two items as one factor of a
confirmatory multidimensional model (:func:`psychometrics.irt.calibrate` with ``factors=``),
scores the respondents' profiles (EAP, one ``theta``/``se`` per scale) and reports the factor
correlations and each scale's reliability in that model, so that a scale with few items is
measured with the help of the correlated others.

Reliability of scale s in the profile model is the empirical (EAP) reliability

.. math:: \rho_s = \frac{\operatorname{Var}(\hat\theta_s)}{\operatorname{Var}(\hat\theta_s) +
          \overline{SE^2_s}}

(du Toit, 2003; mirt's ``empirical_rxx``), comparable to the same statistic of the scale's own
unidimensional calibration.
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
from psychometrics.errors import ConvergenceWarning, ModelWarning, PsychometricsError

__all__ = ["ProfileIRT", "profile_model", "MIRT", "HIGH_CORRELATION"]

#: The ``model`` value of :func:`psychometrics.workflows.validation.validate` that adds the profile model.
MIRT = "mirt"

#: Factor correlation above which two scales are reported as possibly not distinct.
HIGH_CORRELATION = 0.90

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
        Per scale: ``profile`` (empirical reliability of the profile EAPs), ``alone`` (the same
        statistic from the scale's own unidimensional calibration, where given), ``se_profile``
        and ``se_alone`` (mean posterior SDs).
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
            return pd.DataFrame(columns=["profile", "alone", "se_profile", "se_alone"])
        return self.reliability.copy()

    def summary(self) -> str:
        if self.calibration is None:
            return f"profile model: not fitted ({self.error})"
        lines = [f"profile model: {self.factor_correlations.shape[0]} correlated scales, "
                 f"logLik {self.calibration.loglik:.2f}"]
        if self.reliability is not None:
            for scale, row in self.reliability.iterrows():
                lines.append(f"  {scale}: reliability {row['profile']:.3f} in the profile model"
                             + (f", {row['alone']:.3f} alone" if pd.notna(row.get("alone", math.nan)) else ""))
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
    quadrature_points : int, optional
        Passed to :func:`psychometrics.irt.calibrate` (per dimension up to three scales; number
        of quasi-Monte Carlo points beyond).
    """
    from psychometrics.irt import calibrate, score

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
        except (PsychometricsError, ValueError, np.linalg.LinAlgError) as exc:
            return ProfileIRT(None, None, None, None, (), str(exc).splitlines()[0])
    messages = tuple(str(w.message) for w in caught
                     if issubclass(w.category, (ConvergenceWarning, ModelWarning)))
    rows = {}
    for s in used:
        row = {"profile": _empirical(scores[f"theta_{s}"], scores[f"se_{s}"]),
               "se_profile": float(scores[f"se_{s}"].mean())}
        own = None if alone is None else alone.get(s)
        if own is not None:
            row["alone"] = _empirical(own["theta"], own["se"])
            row["se_alone"] = float(own["se"].mean())
        rows[s] = row
    reliability = pd.DataFrame.from_dict(rows, orient="index")
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
