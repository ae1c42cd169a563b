"""Drafting an instrument from a data file: the first step of describing a questionnaire as data.

:func:`draft_instrument` reads a response file the way every command does (the same id-column,
non-item and category checks), then writes what it can infer: the id column, one item per item
column with the codes observed in it, the other columns as ``data_columns``, scales from the
item names' prefixes (``com_01``, ``com_02`` -> scale ``com``; ``A1``..``A5`` -> ``A``) or one
scale, and placeholders for the texts a person must fill in. The draft passes
:meth:`Instrument.from_dict` as written, so ``psychometrics validate data.csv -i draft.yaml``
runs on it; keying (all ``+``) and wording are for its author to correct.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from psychometrics.data import load_responses
from psychometrics.errors import DataWarning, ResponseError
from psychometrics.instrument import Instrument

__all__ = ["draft_instrument"]

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_TODO = "TODO"


def _prefix(item: str) -> str:
    """The item's name without its trailing number and separator: ``com_01`` -> ``com``."""
    return re.sub(r"[_.\-]?\d+$", "", item)


def _scales(items: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(_prefix(item), []).append(item)
    usable = {name: members for name, members in groups.items() if name and _IDENTIFIER.match(name)}
    if len(usable) >= 2 and sum(len(m) for m in usable.values()) == len(items) \
            and all(len(m) >= 2 for m in usable.values()):
        return usable
    return {"scale": list(items)}


def draft_instrument(data: Any, *, instrument_id: str = "draft", title: str | None = None,
                     id_column: str | None = None, items: Sequence[str] | None = None,
                     exclude: Sequence[str] | None = None, missing_codes: Iterable[Any] = (),
                     sep: str | None = None, encoding: str | None = None,
                     max_categories: int | None = 20) -> Instrument:
    """An instrument drafted from a response file or DataFrame.

    Parameters
    ----------
    data : path or DataFrame
        Responses, persons as rows.
    instrument_id, title : str
        Id and title of the draft.
    id_column, items, exclude, missing_codes, sep, encoding, max_categories
        As in :func:`psychometrics.data.load_responses`. Columns that do not look like items
        (text, dates, demographics by name) become ``data_columns`` without being excluded
        by hand; the choice is stated in a :class:`DataWarning`.

    Returns
    -------
    Instrument
        Likert formats with the observed codes (one shared format per distinct code set,
        labels ``TODO``), items keyed ``+`` with placeholder texts, scales by name prefix.

    Raises
    ------
    ResponseError
        What :func:`load_responses` raises, and item columns whose names cannot be item ids.
    """
    from psychometrics._screen import non_item_columns
    from psychometrics.data import _find_id_column, _read_file

    if not isinstance(data, (str, Path)):
        frame, lines = data, None
    else:
        frame, lines = _read_file(Path(data), sep=sep, encoding=encoding, id_column=id_column)
    excluded = list(exclude or ())
    if items is None:
        names = [str(c) for c in frame.columns]
        id_column = _find_id_column(frame, id_column, None, skip=set(excluded),
                                    max_categories=max_categories or 10**9, warn=False)
        candidates = [n for n in names if n not in excluded and n != id_column]
        found = [name for name, _ in non_item_columns(frame, names, candidates, {str(c) for c in missing_codes})
                 if not name.lower().startswith("unnamed")]
        if found:
            warnings.warn(f"column(s) {', '.join(found)} do not look like items and are drafted as data columns",
                          DataWarning, stacklevel=2)
            excluded += found
    responses = load_responses(data if lines is not None else frame, id_column=id_column, items=items,
                               exclude=excluded or None, missing_codes=missing_codes, sep=sep, encoding=encoding,
                               max_categories=max_categories, warn=False)
    bad = [item for item in responses.item_ids if not _IDENTIFIER.match(item)]
    if bad:
        raise ResponseError(f"column(s) {', '.join(repr(b) for b in bad)} cannot be item ids (letters, digits, "
                            "'_', '.', '-'); rename them in the file or exclude them")
    formats: dict[str, dict[str, Any]] = {}
    format_of: dict[str, str] = {}
    for item in responses.item_ids:
        codes = responses.categories[item]
        if len(codes) < 2:
            raise ResponseError(f"item '{item}' has {len(codes)} observed code(s); an item needs two or more "
                                "(exclude it, or declare its categories in the draft by hand)")
        name = f"codes_{codes[0]}_{codes[-1]}".replace("-", "m")
        if name in formats and formats[name]["options"] != [{"code": c, "label": _TODO} for c in codes]:
            name = f"{name}_{len(formats)}"
        formats.setdefault(name, {"type": "likert", "options": [{"code": c, "label": _TODO} for c in codes]})
        format_of[item] = name
    scales = _scales(responses.item_ids)
    id_name = responses.person_ids.name
    data_columns = [{"name": str(c), "role": "other", "description": _TODO}
                    for c in (responses.metadata.columns if responses.metadata is not None else [])
                    if _IDENTIFIER.match(str(c))]
    document = {
        "id": instrument_id,
        "version": "0.1",
        "title": title or f"Draft instrument ({instrument_id})",
        "description": "Drafted from a data file by 'psychometrics instrument init'; fill in the TODOs.",
        "id_column": None if id_name is None else str(id_name),
        "missing_codes": list(missing_codes),
        "formats": formats,
        "scales": [{"id": scale, "name": f"{_TODO}: name of scale {scale}"} for scale in scales],
        "items": [{"id": item, "text": f"{_TODO}: wording of item {item}", "scale": scale, "keying": "+",
                   "response": format_of[item]}
                  for scale, members in scales.items() for item in members],
        "data_columns": data_columns,
    }
    return Instrument.from_dict(document, source="drafted instrument")
