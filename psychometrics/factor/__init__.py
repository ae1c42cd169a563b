"""Factor structure of an instrument.

Latent correlations (:func:`polychoric`, :func:`tetrachoric`, :func:`polyserial`), exploratory
factor analysis (:func:`efa`), the number of factors (:func:`parallel_analysis`,
:func:`velicer_map`, :func:`scree`) and factorability (:func:`kmo`, :func:`bartlett`),
confirmatory factor analysis (:func:`cfa`), omega (:func:`omega`) and a unidimensionality
check per scale before IRT (:func:`unidimensionality`).
"""

from psychometrics.factor.cfa import CFAResult, cfa
from psychometrics.factor.dimensionality import (
    UnidimensionalityResult,
    check_unidimensionality,
    unidimensionality,
)
from psychometrics.factor.efa import EFAResult, efa, fit_statistics, rotate
from psychometrics.factor.omega import OmegaResult, omega
from psychometrics.factor.polychoric import (
    PolychoricResult,
    bivariate_normal_cdf,
    polychoric,
    polyserial,
    smooth_correlation,
    tetrachoric,
)
from psychometrics.factor.retention import (
    BartlettResult,
    KMOResult,
    MAPResult,
    ParallelAnalysisResult,
    bartlett,
    kmo,
    parallel_analysis,
    scree,
    velicer_map,
)

__all__ = [
    "BartlettResult",
    "CFAResult",
    "EFAResult",
    "KMOResult",
    "MAPResult",
    "OmegaResult",
    "ParallelAnalysisResult",
    "PolychoricResult",
    "UnidimensionalityResult",
    "bartlett",
    "bivariate_normal_cdf",
    "cfa",
    "check_unidimensionality",
    "efa",
    "fit_statistics",
    "kmo",
    "omega",
    "parallel_analysis",
    "polychoric",
    "polyserial",
    "rotate",
    "scree",
    "smooth_correlation",
    "tetrachoric",
    "unidimensionality",
    "velicer_map",
]
