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
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from psychometrics.storage import atomic_write_text

if TYPE_CHECKING:
    from psychometrics.irt import Calibration

__all__ = ["BANK_FORMAT", "BANK_SCHEMA_VERSION", "ItemBank", "read_bank"]

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
    """

    scales: dict[str, "Calibration"]
    instrument_id: str | None = None
    instrument_version: str | None = None
    instrument_title: str | None = None
    created: str = ""
    software: str = ""
    models: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scales:
            raise ValueError("an item bank needs at least one calibrated scale")

    def model_of(self, scale: str) -> str:
        """The model name of a scale (one name, or ``mixed`` when its items differ)."""
        if scale in self.models:
            return self.models[scale]
        names = set(self.scales[scale].models.values())
        return names.pop() if len(names) == 1 else "mixed"

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
                               "calibration": json.loads(cal.to_json())}
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
        for scale, entry in doc.scales.items():
            try:
                calibration = Calibration.from_json(json.dumps(entry.calibration))
            except ValueError as exc:
                raise ValueError(f"{source}: scale '{scale}': {exc}") from None
            if list(calibration.item_ids) != entry.items:
                raise ValueError(f"{source}: scale '{scale}': its item list does not match its calibration")
            scales[scale] = calibration
        ref = doc.instrument
        return cls(scales=scales, instrument_id=None if ref is None else ref.id,
                   instrument_version=None if ref is None else ref.version,
                   instrument_title=None if ref is None else ref.title, created=doc.created,
                   software=doc.software, models={s: e.model for s, e in doc.scales.items()})


def read_bank(path: str | os.PathLike[str]) -> ItemBank:
    """Read an item bank file (see the module docstring for its layout)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"item bank {str(path)!r} does not exist")
    return ItemBank.from_json(path.read_text(encoding="utf-8"), source=f"item bank {str(path)!r}")
