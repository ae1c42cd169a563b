"""Differential item functioning: observed-score methods (Mantel-Haenszel, logistic regression)
and IRT likelihood-ratio and Wald tests on a multi-group calibration.

Every method takes responses (persons x items) and a group label per person, compares each
focal group with a reference group at equal matching score, and returns a DataFrame indexed
by item with ``chi2``, ``df``, ``p``, ``p_adjusted``, ``flag`` and an effect size.
"""

from __future__ import annotations

from psychometrics.dif._common import MIN_GROUP_SIZE, DIFTable, adjust_pvalues, matching_scores
from psychometrics.dif.irt import expected_score_effect, irt_lr, irt_wald
from psychometrics.dif.logistic import fit_cumulative_logit, jodoin_gierl_class, logistic
from psychometrics.dif.mantel_haenszel import ets_class, mantel_haenszel, mantel_haenszel_table, ztm_class

__all__ = [
    "DIFTable",
    "MIN_GROUP_SIZE",
    "adjust_pvalues",
    "ets_class",
    "expected_score_effect",
    "fit_cumulative_logit",
    "irt_lr",
    "irt_wald",
    "jodoin_gierl_class",
    "logistic",
    "mantel_haenszel",
    "mantel_haenszel_table",
    "matching_scores",
    "ztm_class",
]
