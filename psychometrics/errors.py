"""Exceptions and warnings raised by psychometrics.

Every error that concerns user data names where the problem is (respondent id, row,
item, value) and, where there is one, what to do about it.
"""

from __future__ import annotations

__all__ = [
    "PsychometricsError",
    "ResponseError",
    "InstrumentError",
    "EstimationError",
    "ConvergenceWarning",
    "DataWarning",
    "ModelWarning",
]


class PsychometricsError(Exception):
    """Base class of every exception raised by psychometrics."""


class ResponseError(PsychometricsError, ValueError):
    """Response data that cannot be analysed as given.

    The message names the respondent id, the row (0-based position in the input), the
    item and the offending value, e.g.::

        respondent 'r1043' (row 212), item 'team_07' (column 7): value 6 is outside
        categories 1-5
    """


class InstrumentError(PsychometricsError, ValueError):
    """An instrument definition that is invalid; the message names the field and why."""


class EstimationError(PsychometricsError, RuntimeError):
    """An estimation problem that cannot produce a trustworthy number."""


class ConvergenceWarning(UserWarning):
    """An iterative estimator stopped before meeting its convergence criterion."""


class DataWarning(UserWarning):
    """Data that can be analysed but deserves attention (constant items, empty rows...)."""


class ModelWarning(UserWarning):
    """A fitted model with a property that deserves attention (Heywood case, collapsed
    categories, non-positive-definite matrix smoothed...)."""
