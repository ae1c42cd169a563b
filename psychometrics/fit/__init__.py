"""Model, item, person and local-dependence fit of item response models.

- :func:`item_fit`: Orlando-Thissen S-X2, infit/outfit, RMSD (:mod:`psychometrics.fit.item`);
- :func:`person_fit`: lz and Snijders' lz* (:mod:`psychometrics.fit.person`);
- :func:`q3`, :func:`ld_x2`: Yen's Q3 and Chen-Thissen LD-X2 (:mod:`psychometrics.fit.local`);
- :func:`m2`, :func:`likelihood_ratio`: limited-information M2 with RMSEA, SRMSR, CFI and TLI,
  and likelihood-ratio tests of nested calibrations (:mod:`psychometrics.fit.model`).
"""

from psychometrics.fit.item import infit_outfit, item_fit, rmsd, s_x2
from psychometrics.fit.local import ld_x2, q3
from psychometrics.fit.model import LikelihoodRatioResult, M2Result, likelihood_ratio, m2
from psychometrics.fit.person import person_fit

__all__ = [
    "item_fit",
    "s_x2",
    "infit_outfit",
    "rmsd",
    "person_fit",
    "q3",
    "ld_x2",
    "m2",
    "M2Result",
    "likelihood_ratio",
    "LikelihoodRatioResult",
]
