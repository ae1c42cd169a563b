"""The one place where user input becomes a checked response matrix.

Persons are rows (the index holds respondent ids), items are columns, cells hold integer
category codes as float64 with NaN for no answer. Every analysis verb calls
:func:`as_responses` on what it is given, so validation lives here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.errors import ResponseError

__all__ = ["Responses", "as_responses", "load_responses"]


@dataclass(frozen=True)
class Responses:
    """A validated response matrix.

    Attributes
    ----------
    frame : DataFrame
        Persons x items, float64, integer codes, NaN for missing. Index: respondent ids.
    categories : dict
        Item id -> tuple of the admissible integer codes (sorted), from the instrument or
        inferred from the data.
    """

    frame: pd.DataFrame
    categories: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def values(self) -> np.ndarray:
        """The float64 array (persons x items), NaN for missing."""
        return self.frame.to_numpy(dtype=np.float64)

    @property
    def item_ids(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def person_ids(self) -> pd.Index:
        return self.frame.index

    @property
    def n_persons(self) -> int:
        return self.frame.shape[0]

    @property
    def n_items(self) -> int:
        return self.frame.shape[1]

    @property
    def observed(self) -> np.ndarray:
        """Boolean mask (persons x items), True where a response was given."""
        return ~np.isnan(self.values)

    def subset(self, items: list[str]) -> "Responses":
        """The same persons restricted to ``items`` (in that order)."""
        return Responses(self.frame[items], {i: self.categories[i] for i in items if i in self.categories})


def as_responses(data: Any, *, categories: Mapping[str, Any] | None = None) -> Responses:
    """Coerce a DataFrame, array or :class:`Responses` into a checked :class:`Responses`.

    Analysis functions call this on their input. A :class:`Responses` passes through
    unchanged; anything else is checked by :func:`load_responses`.
    """
    if isinstance(data, Responses):
        return data
    return load_responses(data, categories=categories)


def load_responses(frame_or_path: Any, *, categories: Mapping[str, Any] | None = None,
                   missing_codes: tuple[float, ...] | list[float] = (), instrument: Any = None) -> Responses:
    """Turn a DataFrame, array or file into a validated :class:`Responses` (see module doc)."""
    frame = frame_or_path
    if isinstance(frame, np.ndarray):
        frame = pd.DataFrame(frame, columns=[f"item{j + 1}" for j in range(frame.shape[1])])
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a DataFrame, array or path, got {type(frame).__name__}")
    if frame.size == 0:
        raise ResponseError("the response data are empty (no rows or no item columns)")
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    for code in missing_codes:
        values[values == code] = np.nan
    frame = pd.DataFrame(values, index=frame.index, columns=[str(c) for c in frame.columns])
    inferred = {
        item: tuple(int(v) for v in np.unique(col[~np.isnan(col)]))
        for item, col in zip(frame.columns, values.T)
    }
    if categories:
        inferred.update({k: tuple(int(v) for v in c) for k, c in categories.items()})
    return Responses(frame, inferred)
