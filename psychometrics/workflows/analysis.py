"""Classical analysis of a whole instrument: item statistics and reliability per scale.

This is the computation behind ``psychometrics analyze``: it runs the verbs of
:mod:`psychometrics.ctt` and :mod:`psychometrics.reliability` on each scale of an instrument
and gathers the results as tables, so the command line, the report and library users all
read the same numbers.
"""

from __future__ import annotations

import math

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from psychometrics import ctt, reliability
from psychometrics.data import Responses

if TYPE_CHECKING:
    from psychometrics.instrument import Instrument

__all__ = ["InstrumentAnalysis", "analyze_instrument"]

#: Columns of the per-scale table, in display order.
SCALE_COLUMNS = [
    "n_items",
    "n_persons",
    "alpha",
    "alpha_ci_low",
    "alpha_ci_high",
    "standardized_alpha",
    "lambda6",
    "split_half",
    "sem",
]


@dataclass(frozen=True)
class InstrumentAnalysis:
    """Item analysis and reliability of every scale of an instrument.

    Attributes
    ----------
    instrument_id : str
    scales : DataFrame
        One row per scale (index: scale id) with the columns of ``SCALE_COLUMNS``.
    items : DataFrame
        One row per item (index: item id): a ``scale`` column followed by the columns of
        :func:`psychometrics.ctt.item_analysis` computed within that scale.
    messages : list of str
        Warnings raised while preparing and analysing the data, in order.
    """

    instrument_id: str
    scales: pd.DataFrame
    items: pd.DataFrame
    messages: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"InstrumentAnalysis({self.instrument_id!r}, {len(self.scales)} scales, "
                f"{len(self.items)} items, {len(self.messages)} messages)")

    def to_frame(self) -> pd.DataFrame:
        """The per-scale table (index: scale id); ``items`` holds the per-item table."""
        return self.scales.copy()

    def summary(self) -> str:
        lines = [f"{self.instrument_id}: {len(self.scales)} scales, {len(self.items)} items"]
        for scale, row in self.scales.iterrows():
            numbers = ", ".join(f"{column} {row[column]:.3f}" for column in ("alpha", "omega_total")
                                if column in row.index and pd.notna(row[column]))
            lines.append(f"  {scale}: {numbers}" if numbers else f"  {scale}")
        lines += [f"  ! {message}" for message in self.messages]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (NaN becomes None)."""

        def records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
            out = frame.reset_index(names=key).astype(object)
            return out.where(pd.notna(out), None).to_dict(orient="records")

        return {
            "instrument": self.instrument_id,
            "scales": records(self.scales, "scale"),
            "items": records(self.items, "item"),
            "messages": list(self.messages),
        }


def analyze_instrument(instrument: Instrument, data: pd.DataFrame | Responses, *,
                       missing: str = "pairwise") -> InstrumentAnalysis:
    """Run classical item analysis and reliability on each scale of ``instrument``.

    Parameters
    ----------
    instrument : Instrument
        Defines the scales, their items and the keying.
    data : DataFrame or Responses
        Raw responses (one row per respondent); a DataFrame is checked, reverse-keyed and
        scored by :meth:`Instrument.prepare`. A :class:`Responses` is taken as already prepared.
    missing : {"pairwise", "listwise"}
        Missing-data handling for the reliability coefficients.

    Returns
    -------
    InstrumentAnalysis
        Per-scale reliability (Cronbach's alpha with Feldt interval, standardized alpha,
        Guttman's lambda 6, odd-even split-half with Spearman-Brown, standard error of
        measurement) and per-item statistics within each scale.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        responses = data if isinstance(data, Responses) else instrument.prepare(data)
        scale_rows: dict[str, dict[str, float]] = {}
        item_tables: list[pd.DataFrame] = []
        for scale_id, item_ids in instrument.scale_items().items():
            present = [item for item in item_ids if item in responses.frame.columns]
            if len(present) < 2:
                warnings.warn(f"scale '{scale_id}' has {len(present)} item(s) in the data; "
                              "reliability needs at least two", stacklevel=2)
                continue
            sub = responses.subset(present)
            # an item without variance (fewer than two answers, or one answer from everybody)
            # stays in the item table and is left out of the scale's reliability, with a message
            values = sub.values
            observed = ~np.isnan(values)
            counts = np.count_nonzero(observed, axis=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN columns
                spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
            unusable = {item: ("fewer than 2 responses" if count < 2 else "no variance")
                        for item, count, width in zip(present, counts, spread) if count < 2 or width == 0}
            usable = [item for item in present if item not in unusable]
            if unusable:
                shown = ", ".join(f"'{item}' (column {responses.column_of(item)}: {why})"
                                  for item, why in unusable.items())
                warnings.warn(f"scale '{scale_id}': item(s) {shown} left out of its reliability", stacklevel=2)
            if len(usable) < 2:
                warnings.warn(f"scale '{scale_id}' has {len(usable)} item(s) with responses; reliability needs at "
                              "least two", stacklevel=2)
                table = ctt.item_analysis(sub)
                table.insert(0, "scale", scale_id)
                item_tables.append(table)
                continue
            rel = responses.subset(usable)

            def attempt(what: str, compute: Any, scale_id: str = scale_id) -> Any:
                # one coefficient that cannot be computed (lambda 6 of two items) is a message, not
                # the end of the analysis of every scale
                try:
                    return compute()
                except ValueError as exc:
                    warnings.warn(f"scale '{scale_id}': {what} not computed: {exc}", stacklevel=2)
                    return None

            result = reliability.alpha(rel, missing=missing)
            lambdas = attempt("Guttman's lambda 6", lambda: reliability.guttman(rel, missing=missing))
            split = attempt("split-half reliability", lambda: reliability.split_half(rel, missing=missing))
            sem = attempt("standard error of measurement", lambda: reliability.sem(rel, missing=missing))
            scale_rows[scale_id] = {
                "n_items": result.n_items,
                "n_persons": result.n_persons,
                "alpha": result.alpha,
                "alpha_ci_low": result.ci_low,
                "alpha_ci_high": result.ci_high,
                "standardized_alpha": result.standardized_alpha,
                "lambda6": math.nan if lambdas is None else lambdas.lambda6,
                "split_half": math.nan if split is None else split.spearman_brown,
                "sem": math.nan if sem is None else sem,
            }
            table = ctt.item_analysis(sub)
            table.insert(0, "scale", scale_id)
            item_tables.append(table)
    scales = pd.DataFrame.from_dict(scale_rows, orient="index", columns=SCALE_COLUMNS)
    scales.index.name = "scale"
    items = pd.concat(item_tables) if item_tables else pd.DataFrame(columns=["scale"])
    items.index.name = "item"
    messages = [str(w.message) for w in caught]
    return InstrumentAnalysis(instrument.id, scales.astype({"n_items": int, "n_persons": int})
                              if len(scales) else scales, items, messages)
