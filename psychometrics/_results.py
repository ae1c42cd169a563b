"""What every result object shares: a one-row frame of its scalar fields for code."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import pandas as pd

__all__ = ["scalar_frame", "brief_repr", "ResultFrame"]


def scalar_frame(result: Any) -> pd.DataFrame:
    """One row, one column per scalar (number, string, bool) field of a dataclass result; arrays,
    frames and nested results are left to the result's own accessors."""
    row = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
           if isinstance(getattr(result, f.name), (numbers.Number, str, bool))}
    return pd.DataFrame([row])


def _brief(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else None
    shape = getattr(value, "shape", None)
    if shape is not None:
        return "x".join(str(n) for n in shape)
    if isinstance(value, (list, tuple, dict)):
        return f"{len(value)} entries"
    return None


def brief_repr(result: Any) -> str:
    """One line: the class name and every scalar field; arrays and frames show only their shape.

    Used as ``__repr__`` by result dataclasses, whose generated repr would print whole frames.
    """
    parts = []
    for f in dataclasses.fields(result):
        if not f.repr or f.name.startswith("_"):
            continue
        text = _brief(getattr(result, f.name))
        if text is not None:
            parts.append(f"{f.name}={text}")
    return f"{type(result).__name__}({', '.join(parts)})"


class ResultFrame(pd.DataFrame):
    """A DataFrame whose facts about the analysis (reference group, settings, counts) are
    documented attributes of the result rather than entries of ``DataFrame.attrs``.

    Subclasses name their attributes in ``_metadata``; pandas carries them to slices and copies.
    For one release the same facts are also mirrored into ``attrs`` under their former keys, so
    code that read them there keeps working; read the attributes instead.
    """

    _metadata: list[str] = []
    #: attribute -> former ``attrs`` key, for the attributes whose key changed.
    _legacy_keys: dict[str, str] = {}

    @property
    def _constructor(self) -> type:
        return type(self)

    @classmethod
    def of(cls, frame: pd.DataFrame, **facts: Any) -> Any:
        """``frame`` as this class, with ``facts`` (each a name in ``_metadata``) as attributes."""
        unknown = set(facts) - set(cls._metadata)
        if unknown:
            raise TypeError(f"{cls.__name__} has no attribute(s) {sorted(unknown)}")
        out = cls(frame)
        for name in cls._metadata:
            object.__setattr__(out, name, facts.get(name))
        out.attrs.update({cls._legacy_keys.get(name, name): value for name, value in facts.items()})
        return out
