"""Item banks: the calibrations of an instrument's scales in one versioned JSON file.

An item bank is what ``psychometrics calibrate`` writes and ``psychometrics score`` reads::

    {
      "format": "psychometrics-item-bank",
      "schema_version": 1,
      "created": "2026-11-26T16:40:00+00:00",
      "software": "psychometrics 0.1.0",
      "instrument": {"id": "soft-skills-7", "version": "1.0", "title": "..."},   # or null
      "scales": {
        "teamwork": {"model": "graded", "items": ["tea_01", ...],
                     "calibration": { ... Calibration.to_json() ... }},
        ...
      }
    }

Each scale's ``calibration`` is the document of :meth:`psychometrics.irt.Calibration.to_json`
(itself versioned), embedded as JSON rather than as a string so the file stays readable. A
bank calibrated without an instrument has ``"instrument": null``; its responses were scored
as they are (no reverse keying), and so must the responses scored with it be.

This module needs neither typer nor rich, so a platform embedding the engine (or any other
front end) reads and writes banks without the command line.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pydantic

from psychometrics.storage import atomic_write_text

if TYPE_CHECKING:
    from psychometrics.irt import Calibration

__all__ = ["BANK_FORMAT", "BANK_SCHEMA_VERSION", "ItemBank", "check_calibration_document", "collapse_map",
           "read_bank"]

BANK_FORMAT = "psychometrics-item-bank"
#: Version of the item bank layout (the embedded calibrations carry their own version).
BANK_SCHEMA_VERSION = 1


class _InstrumentRef(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    id: str
    version: str
    title: str = ""


class _ScaleEntry(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    model: str
    items: list[str] = pydantic.Field(min_length=1)
    calibration: dict[str, Any]
    # item -> {declared code (as text, JSON keys are text): calibrated code it is scored as}
    collapsed: dict[str, dict[str, int]] = pydantic.Field(default_factory=dict)


class _BankDocument(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    format: str
    schema_version: int
    created: str = ""
    software: str = ""
    instrument: _InstrumentRef | None = None
    scales: dict[str, _ScaleEntry] = pydantic.Field(min_length=1)


@dataclass(frozen=True, eq=False)
class ItemBank:
    """Calibrations per scale, with the instrument they belong to.

    Attributes
    ----------
    scales : dict
        Scale id -> :class:`~psychometrics.irt.Calibration`, in the instrument's scale order.
    instrument_id, instrument_version, instrument_title : str or None
        The instrument whose prepared (keyed, scored) responses were calibrated; None for a bank
        calibrated on a plain response matrix.
    created : str
        ISO 8601 time of writing (UTC).
    software : str
        Package and version that wrote the bank.
    collapsed : dict
        Scale id -> item id -> {declared code: calibrated code}: categories the instrument
        declares but nobody chose in the calibration sample, merged into the nearest used
        category (:func:`collapse_map`). Scoring applies the map, with a warning, so that a
        later valid answer in such a category is scored instead of failing the batch.
    """

    scales: dict[str, "Calibration"]
    instrument_id: str | None = None
    instrument_version: str | None = None
    instrument_title: str | None = None
    created: str = ""
    software: str = ""
    models: dict[str, str] = field(default_factory=dict)
    collapsed: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scales:
            raise ValueError("an item bank needs at least one calibrated scale")
        seen: dict[str, str] = {}
        for scale, calibration in self.scales.items():
            for item in calibration.item_ids:
                if item in seen:
                    raise ValueError(f"item '{item}' is in scales '{seen[item]}' and '{scale}' of the item bank; "
                                     "item ids must be unique")
                seen[item] = scale

    def apply_collapse(self, scale: str, responses: Any) -> Any:
        """``responses`` with codes of categories collapsed at calibration replaced by the
        calibrated code they were merged into; a :class:`~psychometrics.errors.DataWarning`
        says how many answers were moved. Responses without such codes pass unchanged.
        """
        import warnings

        import numpy as np

        from psychometrics.data import Responses
        from psychometrics.errors import DataWarning

        maps = {item: mapping for item, mapping in self.collapsed.get(scale, {}).items()
                if item in responses.item_ids}
        if not maps:
            return responses
        values = responses.values.copy()
        moved: list[str] = []
        for item, mapping in maps.items():
            j = responses.item_ids.index(item)
            column = values[:, j]
            for code, target in mapping.items():
                hit = column == code
                count = int(np.count_nonzero(hit))
                if count:
                    column[hit] = target
                    moved.append(f"'{item}' {code} -> {target} ({count})")
        if not moved:
            return responses
        warnings.warn(f"scale '{scale}': answers in categories unused in the calibration sample are scored as the "
                      f"category they were merged into: {', '.join(moved[:10])}{' ...' if len(moved) > 10 else ''}",
                      DataWarning, stacklevel=2)
        frame = pd.DataFrame(values, index=responses.frame.index, columns=responses.frame.columns)
        categories = {item: tuple(self.scales[scale].categories[item]) if item in maps else codes
                      for item, codes in responses.categories.items()}
        # the file's columns travel along, so that a later message names them (not the scale's)
        return Responses(frame, categories, responses.metadata, responses.keyed, responses.columns)

    def model_of(self, scale: str) -> str:
        """The model name of a scale (one name, or ``mixed`` when its items differ)."""
        if scale in self.models:
            return self.models[scale]
        names = set(self.scales[scale].models.values())
        return names.pop() if len(names) == 1 else "mixed"

    # -- presentation ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        instrument = ("no instrument" if self.instrument_id is None else
                      f"instrument={self.instrument_id!r}" + (f" v{self.instrument_version}"
                                                                if self.instrument_version else ""))
        scales = [f"{scale}={self.model_of(scale)}({cal.n_items})" for scale, cal in self.scales.items()]
        if len(scales) > 6:
            scales = scales[:6] + [f"... {len(scales) - 6} more"]
        n_items = sum(cal.n_items for cal in self.scales.values())
        return f"ItemBank({instrument}, {len(self.scales)} scales, {n_items} items: {', '.join(scales)})"

    def scales_frame(self) -> pd.DataFrame:
        """One row per scale: ``model``, ``n_items``, ``n_persons`` of its calibration,
        ``converged`` and ``n_collapsed`` (items with categories merged at calibration)."""
        return pd.DataFrame(
            {"model": [self.model_of(scale) for scale in self.scales],
             "n_items": [cal.n_items for cal in self.scales.values()],
             "n_persons": [float(cal.n_persons) for cal in self.scales.values()],
             "converged": [bool(cal.converged) for cal in self.scales.values()],
             "n_collapsed": [len(self.collapsed.get(scale, {})) for scale in self.scales]},
            index=pd.Index(list(self.scales), name="scale"))

    def to_frame(self) -> pd.DataFrame:
        """One row per item (index ``item``): its ``scale``, ``model`` and IRT parameters
        (:meth:`psychometrics.irt.Calibration.to_frame`, standard errors included when stored).
        Parameters an item's model does not have are NaN."""
        frames = []
        for scale, calibration in self.scales.items():
            frame = calibration.to_frame()
            frame.insert(0, "scale", scale)
            frames.append(frame)
        out = pd.concat(frames, axis=0, sort=False)
        out.index.name = "item"
        return out

    def summary(self, digits: int = 3) -> str:
        """A short report: the instrument, one line per scale, then the item parameters."""
        if self.instrument_id is None:
            head = "Item bank (no instrument: responses are scored as they are)"
        else:
            head = (f"Item bank of instrument {self.instrument_id!r}"
                    + (f" version {self.instrument_version}" if self.instrument_version else "")
                    + (f" ({self.instrument_title})" if self.instrument_title else ""))
        if self.created or self.software:
            head += f"; written {self.created or '?'} by {self.software or '?'}"
        return "\n".join([head, "", self.scales_frame().to_string(), "",
                          self.to_frame().round(digits).to_string()])

    def to_dict(self) -> dict[str, Any]:
        """The JSON document as Python objects."""
        from psychometrics import __version__

        instrument = None
        if self.instrument_id is not None:
            instrument = {"id": self.instrument_id, "version": str(self.instrument_version or ""),
                          "title": self.instrument_title or ""}
        return {
            "format": BANK_FORMAT,
            "schema_version": BANK_SCHEMA_VERSION,
            "created": self.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "software": self.software or f"psychometrics {__version__}",
            "instrument": instrument,
            "scales": {scale: {"model": self.model_of(scale), "items": list(cal.item_ids),
                               "calibration": json.loads(cal.to_json()),
                               **({"collapsed": {item: {str(k): int(v) for k, v in mapping.items()}
                                                 for item, mapping in self.collapsed[scale].items()}}
                                  if self.collapsed.get(scale) else {})}
                       for scale, cal in self.scales.items()},
        }

    def to_json(self) -> str:
        """The JSON document as text (no NaN: a bank must be plain JSON)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the bank to ``path`` atomically (:func:`psychometrics.storage.atomic_write_text`)."""
        return atomic_write_text(path, self.to_json())

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "item bank") -> "ItemBank":
        """Read a bank written by :meth:`to_json`.

        Raises
        ------
        ValueError
            When the text is not an item bank of a supported version; the message names the
            source and the field at fault.
        """
        from psychometrics.irt import Calibration

        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source} is not JSON: {exc}") from None
        if not isinstance(raw, Mapping) or raw.get("format") != BANK_FORMAT:
            raise ValueError(f"{source} is not an item bank (expected \"format\": \"{BANK_FORMAT}\"; "
                             "write one with 'psychometrics calibrate')")
        if raw.get("schema_version") != BANK_SCHEMA_VERSION:
            raise ValueError(f"{source}: item bank schema version {raw.get('schema_version')!r} is not "
                             f"supported (this version reads {BANK_SCHEMA_VERSION})")
        try:
            doc = _BankDocument.model_validate(raw)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{source}: invalid item bank: {where}: {first['msg']}") from None
        scales: dict[str, Calibration] = {}
        collapsed: dict[str, dict[str, dict[int, int]]] = {}
        for scale, entry in doc.scales.items():
            check_calibration_document(entry.calibration, where=f"{source}: scale '{scale}'")
            try:
                calibration = Calibration.from_json(json.dumps(entry.calibration))
            except ValueError as exc:
                raise ValueError(f"{source}: scale '{scale}': {exc}") from None
            if list(calibration.item_ids) != entry.items:
                raise ValueError(f"{source}: scale '{scale}': its item list does not match its calibration")
            scales[scale] = calibration
            collapsed[scale] = _check_collapsed(entry.collapsed, calibration, where=f"{source}: scale '{scale}'")
        ref = doc.instrument
        try:
            return cls(scales=scales, instrument_id=None if ref is None else ref.id,
                       instrument_version=None if ref is None else ref.version,
                       instrument_title=None if ref is None else ref.title, created=doc.created,
                       software=doc.software, models={s: e.model for s, e in doc.scales.items()},
                       collapsed=collapsed)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None


def collapse_map(declared: tuple[int, ...], calibrated: tuple[int, ...]) -> dict[int, int]:
    """Declared codes absent from ``calibrated`` -> the calibrated code they are scored as.

    An unused category is merged into the nearest used one (the lower on a tie), the way the
    calibration collapsed it: codes keep their order, so a higher answer never scores lower.
    """
    used = sorted(calibrated)
    out: dict[int, int] = {}
    for code in declared:
        if code in calibrated or not used:
            continue
        out[int(code)] = int(min(used, key=lambda c: (abs(c - code), c)))
    return out


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_calibration_document(doc: Mapping[str, Any], *, where: str = "calibration") -> None:
    """Check an embedded calibration document item by item before it is used for scoring.

    An item bank is a file people open and edit. Each of these is a :class:`ValueError` naming
    the item: duplicate item ids; categories not sorted, not unique or not integers; a number
    of categories the model cannot have; slope-intercept parameter names other than the
    model's (``a1, d1..d{K-1}`` for graded: one intercept per category boundary); a missing or
    non-finite parameter; graded intercepts out of order (``d1 > d2 > ...`` is what makes
    every category probability positive, Samejima 1969); and an IRT-form block that is not
    the transformation of the slope-intercept block (the slope-intercept values are the one
    source of truth; the readable IRT block must agree with them to 1e-6 relative).

    References
    ----------
    .. [1] Samejima, F. (1969). Estimation of latent ability using a response pattern of
           graded scores. Psychometrika Monograph Supplement, 17.
    """
    import numpy as np

    from psychometrics.items import get_model

    items = doc.get("items") if isinstance(doc, Mapping) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}: the calibration has no items")
    seen: set[str] = set()
    for entry in items:
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: an item entry is not an object")
        item = str(entry.get("id"))
        label = f"{where}, item '{item}'"
        if item in seen:
            raise ValueError(f"{label}: duplicate item id")
        seen.add(item)
        try:
            model = get_model(str(entry.get("model")))
        except (KeyError, ValueError):
            raise ValueError(f"{label}: unknown model {entry.get('model')!r}") from None
        categories = entry.get("categories")
        if not isinstance(categories, list) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                       for c in categories):
            raise ValueError(f"{label}: categories must be a list of integer codes, got {categories!r}")
        if categories != sorted(set(categories)):
            raise ValueError(f"{label}: categories {categories} are not sorted and unique (reversed or edited?)")
        try:
            model.check_categories(len(categories))
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        names = model.parameter_names(len(categories))
        params = entry.get("slope_intercept") or {}
        given = {k for k, v in params.items() if v is not None}
        unexpected = sorted(given - set(names))
        if unexpected:
            raise ValueError(f"{label}: parameter(s) {', '.join(unexpected)} do not belong to a {model.name} item "
                             f"with {len(categories)} categories (its parameters are {', '.join(names)})")
        missing = [n for n in names if n not in given]
        if missing:
            raise ValueError(f"{label}: parameter(s) {', '.join(missing)} are missing for {len(categories)} "
                             f"categories {categories}; categories and parameters must match")
        bad = [n for n in names if not _finite_number(params[n])]
        if bad:
            raise ValueError(f"{label}: parameter {bad[0]} is {params[bad[0]]!r}, not a finite number")
        values = np.array([[float(params[n]) for n in names]])
        if model.name == "graded":
            intercepts = values[0, 1:]
            if np.any(np.diff(intercepts) >= 0):
                raise ValueError(f"{label}: graded intercepts {', '.join(f'{v:g}' for v in intercepts)} are not "
                                 "decreasing (d1 > d2 > ...), so some category would have a negative probability")
        irt = entry.get("irt")
        if irt:
            irt_names = model.irt_parameter_names(len(categories))
            with np.errstate(all="ignore"):
                derived = model.to_irt(values)[0]
            for name, value in zip(irt_names, derived):
                stored = irt.get(name)
                if stored is None and not math.isfinite(value):
                    continue
                if not _finite_number(stored) or not math.isclose(float(stored), float(value), rel_tol=1e-6,
                                                                  abs_tol=1e-9):
                    raise ValueError(f"{label}: IRT-form {name} = {stored!r} does not follow from the slope-intercept "
                                     f"parameters ({value:.6g}); the slope-intercept block is the one source of "
                                     "truth: edit it, or recalibrate")


def _check_collapsed(collapsed: Mapping[str, Mapping[str, int]], calibration: Any, *,
                     where: str) -> dict[str, dict[int, int]]:
    out: dict[str, dict[int, int]] = {}
    for item, mapping in collapsed.items():
        if item not in calibration.item_ids:
            raise ValueError(f"{where}: collapsed categories given for item '{item}', which is not in the scale")
        codes = calibration.categories[item]
        converted: dict[int, int] = {}
        for key, target in mapping.items():
            try:
                code = int(key)
            except ValueError:
                raise ValueError(f"{where}, item '{item}': collapsed code {key!r} is not an integer") from None
            if code in codes or target not in codes:
                raise ValueError(f"{where}, item '{item}': collapse {code} -> {target} must map an uncalibrated "
                                 f"code to one of the calibrated categories {list(codes)}")
            converted[code] = int(target)
        out[item] = converted
    return out


def read_bank(path: str | os.PathLike[str]) -> ItemBank:
    """Read an item bank file (see the module docstring for its layout)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"item bank {str(path)!r} does not exist")
    return ItemBank.from_json(path.read_text(encoding="utf-8"), source=f"item bank {str(path)!r}")
