"""Rater models and 360-degree feedback.

* :func:`facets`: the many-facet Rasch model (persons x items x raters) by marginal maximum
  likelihood, returning a :class:`FacetsResult`.
* :func:`feedback`: self-other comparisons of a 360-degree form per target and competency,
  agreement within each rater role, a halo index and organisation role means, under a
  stated anonymity rule (:func:`visible_roles`).
"""

from psychometrics.raters._facets import MODELS, FacetsResult, facets
from psychometrics.raters._feedback import BLIND_SPOT, HIDDEN_STRENGTH, FeedbackResult, feedback, visible_roles

__all__ = ["facets", "FacetsResult", "MODELS", "feedback", "FeedbackResult", "visible_roles", "BLIND_SPOT",
           "HIDDEN_STRENGTH"]
