"""What every result object shares: a one-row frame of its scalar fields for code."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import pandas as pd

__all__ = ["scalar_frame"]


def scalar_frame(result: Any) -> pd.DataFrame:
    """One row, one column per scalar (number, string, bool) field of a dataclass result; arrays,
    frames and nested results are left to the result's own accessors."""
    row = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
           if isinstance(getattr(result, f.name), (numbers.Number, str, bool))}
    return pd.DataFrame([row])
