"""The one place where user input becomes a checked response matrix.

Persons are rows (the index holds respondent ids), items are columns, cells hold integer
category codes as float64 with NaN for no answer. Every analysis verb calls
:func:`as_responses` on what it is given, so validation lives here and nowhere else.

Error messages point at the offending cell the way a person would look it up: the
respondent id, the row (0-based position among the data rows of the input), the item and
its column (0-based position among the columns of the input, the id column included when
the ids come from a column) and the value found, e.g.::

    respondent 'r1043' (row 212), item 'team_07' (column 7): value 6 is outside categories 1-5
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from psychometrics._screen import missing_code_hint
from psychometrics.errors import DataWarning, ResponseError

__all__ = [
    "ID_COLUMNS",
    "align_labels",
    "InstrumentLike",
    "ItemSpec",
    "Responses",
    "as_responses",
    "category_index",
    "load_responses",
    "read_table",
]

#: Column names taken as respondent ids when ``id_column`` is not given (case-insensitive).
ID_COLUMNS = ("respondent_id", "respondent", "person_id", "person", "id")

#: ``DataFrame.attrs`` key marking the ``.frame`` of keyed responses (the instrument id), so that
#: passing that frame back to :meth:`Instrument.prepare` does not reverse-key it a second time.
KEYED_ATTR = "psychometrics.keyed_by"

#: Widest category range ever inferred, whatever ``max_categories`` says: beyond it a code's
#: magnitude (a typo ``1e300``) would size the list of categories.
CATEGORY_LIMIT = 100_000

#: How many offending cells an error message lists before giving the total.
MAX_REPORTED = 5

# Rows are checked in blocks so that validating a million respondents needs a few
# boolean masks of one block, not of the whole matrix.
_BLOCK_ROWS = 65_536
#: Values from which large matrices are checked in one compiled pass (psychometrics._fastscan).
_FAST_SCAN_FROM = 1 << 20


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
    metadata : DataFrame or None
        Columns of the input that are not items (rater role, target id, group...), indexed
        like ``frame``; None when the input had none.
    keyed : str or None
        Id of the instrument whose reverse keying and option scoring were applied; None
        when none was (plain codes). A keyed matrix is never keyed again.
    columns : dict or None
        Item id -> its 0-based column in the file or frame the responses were loaded from, so
        that a message raised on a subset (one scale) names the column the user sees; None
        when unknown (then :meth:`column_of` gives the position in ``frame``).
    """

    frame: pd.DataFrame
    categories: dict[str, tuple[int, ...]] = field(default_factory=dict)
    metadata: pd.DataFrame | None = field(default=None, repr=False)
    keyed: str | None = None
    columns: dict[str, int] | None = field(default=None, repr=False, compare=False)

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
        return Responses(self.frame[items], {i: self.categories[i] for i in items if i in self.categories},
                         self.metadata, self.keyed, self.columns)

    def column_of(self, item: str) -> int:
        """The item's 0-based column in the loaded file or frame (its position in ``frame``
        when the source columns are unknown)."""
        if self.columns is not None and item in self.columns:
            return self.columns[item]
        return self.item_ids.index(item)


@dataclass(frozen=True)
class ItemSpec:
    """What an instrument says about one item, as the loader needs it.

    Attributes
    ----------
    categories : tuple of int
        Admissible codes after option scoring (before reverse keying; reversal maps the
        range onto itself).
    reverse : bool
        Reverse-keyed: the code x becomes ``min + max - x``.
    options : mapping or None
        For items answered by choosing an option (multiple choice, situational judgement,
        keyed dichotomous): option id -> score. Raw responses are option ids, matched
        after stripping blanks and ignoring case.
    """

    categories: tuple[int, ...]
    reverse: bool = False
    options: Mapping[str, float] | None = None


@runtime_checkable
class InstrumentLike(Protocol):
    """What :func:`load_responses` uses from an instrument (see :mod:`psychometrics.instrument`)."""

    id: str
    id_column: str | None

    def item_specs(self) -> dict[str, ItemSpec]: ...

    def metadata_columns(self) -> list[str]: ...


def as_responses(data: Any, *, categories: Mapping[str, Any] | Sequence[int] | None = None,
                 warn: bool = True) -> Responses:
    """Coerce a DataFrame, array or :class:`Responses` into a checked :class:`Responses`.

    Analysis functions call this on their input. A :class:`Responses` passes through
    unchanged; anything else is checked by :func:`load_responses`, which issues the data
    warnings (constant or sparse items, empty rows) unless ``warn`` is false: scoring a few
    new respondents, for instance, is not the place to call an item "constant". The category
    range is not limited by ``max_categories`` here (the caller chose the columns), only by
    :data:`CATEGORY_LIMIT`.
    """
    if isinstance(data, Responses):
        return data
    # In-memory data are the caller's choice of columns: wide score ranges (sum scores, 0-100
    # ratings) are legitimate for classical statistics; files and the command line go through
    # load_responses with max_categories.
    return load_responses(data, categories=categories, warn=warn, max_categories=None)


# ----------------------------------------------------------------------------- reading files

def read_table(path: str | os.PathLike[str], *, sep: str | None = None,
               encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV, Parquet or SPSS ``.sav`` file into a DataFrame, without checking its cells.

    Text files are read strictly (:func:`psychometrics._read.read_text_table`): leading lines
    starting with ``#`` are skipped; bytes that are not valid in ``encoding`` (default UTF-8),
    a header that only another separator would split, duplicate column names and any data
    line whose field count differs from the header's raise :class:`ResponseError` naming the
    line and the option to pass (``sep=``, ``encoding=``). Columns named like respondent ids
    are read as text (``007`` stays ``007``). Parquet needs ``pyarrow`` and SPSS needs
    ``pyreadstat``; both come with the ``io`` extra (``pip install 'psychometrics[io]'``).
    """
    return _read_file(Path(path), sep=sep, encoding=encoding)[0]


def _read_file(path: Path, *, sep: str | None = None, encoding: str | None = None,
               id_column: str | None = None, text: Collection[str] = ()) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The file as a DataFrame and, for text files, the line number of each data row.

    Columns named in ``text`` (besides ids) are read from a text file as the text written
    there: a group column holding ``2.0`` keeps ``2.0``, not the number 2."""
    from psychometrics._read import read_text_table
    from psychometrics._screen import _named_like_id

    if not path.is_file():
        raise FileNotFoundError(f"response file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv", ".txt", ".tab"} or sep is not None:
        return read_text_table(path, sep=sep, encoding=encoding,
                               text_columns=lambda name: name == id_column or name in text or _named_like_id(name))
    if suffix in {".parquet", ".pq"}:
        try:
            import pyarrow  # noqa: F401
        except ModuleNotFoundError:
            raise ModuleNotFoundError("reading Parquet files needs pyarrow: "
                                      "pip install 'psychometrics[io]'") from None
        return pd.read_parquet(path), None
    if suffix in {".sav", ".zsav"}:
        try:
            import pyreadstat
        except ModuleNotFoundError:
            raise ModuleNotFoundError("reading SPSS files needs pyreadstat: "
                                      "pip install 'psychometrics[io]'") from None
        # Codes declared as user-missing in the file become NaN; value labels are not applied
        # because the analysis needs the numeric codes.
        frame, _meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
        return frame, None
    raise ResponseError(f"cannot read {str(path)!r}: unknown file type {suffix!r} "
                        "(use .csv, .tsv, .parquet or .sav, or pass sep= for another delimited text file)")


# ----------------------------------------------------------------------------- formatting

def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def align_labels(labels: Any, responses: Responses) -> pd.Series:
    """One label per person (a group, for DIF or a multi-group calibration), aligned to the
    respondent ids of ``responses``.

    A Series whose unique index holds every respondent id is matched by id; any other
    one-dimensional sequence (Series, Categorical, array, list, one-column DataFrame) must
    have one entry per person, in row order. The result is indexed by respondent id and
    keeps a Series' or Categorical's dtype; missing labels stay missing for the caller to judge.
    """
    if isinstance(labels, pd.DataFrame):
        if labels.shape[1] != 1:
            raise ResponseError(f"group must be one column, got a DataFrame with {labels.shape[1]} columns")
        labels = labels.iloc[:, 0]
    if isinstance(labels, pd.Categorical):
        labels = pd.Series(labels)
    ids = responses.person_ids
    if isinstance(labels, pd.Series):
        if labels.index.is_unique and len(labels) >= len(ids) and ids.isin(labels.index).all():
            return labels.reindex(ids)
        if len(labels) == responses.n_persons:
            return pd.Series(labels.to_numpy(), index=ids, dtype=labels.dtype)
        raise ResponseError(f"group has {len(labels)} entries but the responses have {responses.n_persons} "
                            "persons (and its index does not hold all respondent ids)")
    values = np.asarray(labels, dtype=object)
    if values.ndim != 1:
        raise ResponseError(f"group must be one-dimensional, got shape {values.shape}")
    if values.shape[0] != responses.n_persons:
        raise ResponseError(f"group has {values.shape[0]} entries but the responses have "
                            f"{responses.n_persons} persons")
    return pd.Series(values, index=ids)


def format_label(value: Any) -> str:
    """A group or respondent label as error messages show it: text quoted, numbers plain."""
    value = _python_scalar(value)
    return repr(value) if isinstance(value, str) else str(value)


def _format_id(value: Any) -> str:
    value = _python_scalar(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"'{value}'" if isinstance(value, str) else str(value)


def _format_value(value: Any) -> str:
    value = _python_scalar(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _format_categories(codes: Sequence[int]) -> str:
    if len(codes) > 2 and list(codes) == list(range(codes[0], codes[-1] + 1)):
        return f"{codes[0]}-{codes[-1]}"
    return ", ".join(str(c) for c in codes)


def _check_duplicate_columns(names: Sequence[Any], *, source: str = "the response data") -> None:
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        seen.setdefault(str(name), []).append(position)
    duplicated = {name: positions for name, positions in seen.items() if len(positions) > 1}
    if duplicated:
        parts = [f"item '{name}' appears in columns {', '.join(map(str, positions))}"
                 for name, positions in duplicated.items()]
        raise ResponseError(f"duplicate item ids in {source}: " + "; ".join(parts))


def _row_text(row: int, lines: np.ndarray | None) -> str:
    """Where a data row is: its file line number when read from a text file, else its position."""
    return f"row {row}" if lines is None else f"line {int(lines[row])}"


def _rows_text(rows: Sequence[int], lines: np.ndarray | None) -> str:
    if lines is None:
        return "rows " + ", ".join(str(r) for r in rows)
    return "lines " + ", ".join(str(int(lines[r])) for r in rows)


class _Offences:
    """Collects invalid cells across checks and reports the first few in reading order."""

    def __init__(self, ids: np.ndarray, items: Sequence[str], columns: Sequence[int],
                 lines: np.ndarray | None = None) -> None:
        self.ids = ids
        self.items = items
        self.columns = columns
        self.lines = lines
        self.total = 0
        self.found: list[tuple[int, int, str]] = []  # (row, item index, text)

    def add(self, rows: np.ndarray, item_index: int | np.ndarray, describe: Any, count: int) -> None:
        """Record ``count`` offences of which ``rows`` (with their items) are the first few."""
        self.total += count
        items = np.broadcast_to(np.asarray(item_index), rows.shape)
        for row, j in zip(rows[:MAX_REPORTED].tolist(), items[:MAX_REPORTED].tolist()):
            self.found.append((row, j, describe(row, j)))

    def raise_if_any(self) -> None:
        if not self.total:
            return
        self.found.sort(key=lambda entry: (entry[0], entry[1]))
        lines = [f"respondent {_format_id(self.ids[row])} ({_row_text(row, self.lines)}), item '{self.items[j]}' "
                 f"(column {self.columns[j]}): {text}" for row, j, text in self.found[:MAX_REPORTED]]
        if self.total == 1:
            raise ResponseError(lines[0])
        shown = len(lines)
        head = (f"{self.total} invalid responses" +
                (f"; the first {shown}:" if shown < self.total else ":"))
        raise ResponseError(head + "\n  " + "\n  ".join(lines))


# ----------------------------------------------------------------------------- checks

def _to_frame(data: Any, *, sep: str | None = None, encoding: str | None = None, id_column: str | None = None,
              text: Collection[str] = ()) -> tuple[pd.DataFrame, Responses | None, np.ndarray | None, np.ndarray | None]:
    """The input as a DataFrame, the Responses it came from (if any), the frame's float data
    when they are a private copy that may be modified in place, and the file line number of
    each row when the input is a text file."""
    if isinstance(data, Responses):
        return data.frame, data, None, None
    if isinstance(data, pd.DataFrame):
        return data, None, None, None
    if isinstance(data, (str, os.PathLike)):
        frame, lines = _read_file(Path(data), sep=sep, encoding=encoding, id_column=id_column, text=text)
        return frame, None, None, lines
    if isinstance(data, np.ndarray) or isinstance(data, list):
        array = np.asarray(data)
        if array.ndim != 2:
            raise ResponseError(f"expected a 2-D array (persons x items), got an array of shape {array.shape}")
        columns = [f"item{j + 1}" for j in range(array.shape[1])]
        if array.dtype.kind in "biuf":
            # One copy here, column-major like pandas' own blocks (the per-item reductions
            # of the checks below run faster on it); the checks then work on it in place.
            array = np.array(array, dtype=np.float64, order="F")
            return pd.DataFrame(array, columns=columns, copy=False), None, array, None
        return pd.DataFrame(array, columns=columns), None, None, None
    raise TypeError(f"expected a DataFrame, 2-D array, Responses or file path, got {type(data).__name__}")


def _list_columns(columns: Sequence[str]) -> str:
    return f"{', '.join(columns[:20])}{' ...' if len(columns) > 20 else ''}"


def _find_id_column(frame: pd.DataFrame, id_column: str | None, instrument: Any, *, skip: set[str],
                    max_categories: int, warn: bool) -> str | None:
    """The column of respondent ids: the one asked for, the instrument's, or the one column
    that looks like an id (by name, else by content), stated with a :class:`DataWarning`
    unless its name is one of :data:`ID_COLUMNS`. Several candidates are an error."""
    from psychometrics._screen import id_candidates, normalise

    columns = [str(c) for c in frame.columns]
    if id_column is not None:
        if id_column not in columns:
            raise ResponseError(f"id column '{id_column}' is not in the data; columns are {_list_columns(columns)}")
        return id_column
    if instrument is not None and instrument.id_column and instrument.id_column in columns:
        return instrument.id_column
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1):
        return None  # the caller's index holds the ids
    if instrument is not None:
        skip = skip | set(instrument.item_specs())
    by_name, by_content = id_candidates(frame, columns, skip, max_categories)
    found = by_name or by_content
    if len(found) > 1:
        listed = ", ".join(f"'{name}' (column {columns.index(name)})" for name in found[:5])
        raise ResponseError(f"several columns look like respondent ids: {listed}; say which one holds the ids "
                            f"with id_column='{found[0]}' (command line: --id-column '{found[0]}') and leave the "
                            f"others out with exclude=[...] (--exclude)")
    if not found:
        return None
    name = found[0]
    if warn and normalise(name) not in {normalise(n) for n in ID_COLUMNS}:
        reason = "its name" if by_name else "its values (all different)"
        warnings.warn(f"column '{name}' (column {columns.index(name)}) is taken as the respondent id by {reason}; "
                      "pass id_column= (command line: --id-column) to choose another", DataWarning,
                      stacklevel=_caller_stacklevel())
    return name


def _check_ids(ids: pd.Index, lines: np.ndarray | None = None) -> None:
    missing = np.flatnonzero(pd.isna(ids))
    if missing.size:
        raise ResponseError(f"{missing.size} respondent id(s) are missing "
                            f"({_rows_text(missing[:MAX_REPORTED].tolist(), lines)}"
                            f"{' ...' if missing.size > MAX_REPORTED else ''})")
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        rows = np.flatnonzero(duplicated)
        by_id: dict[Any, list[int]] = {}
        for row in rows.tolist():
            by_id.setdefault(_python_scalar(ids[row]), []).append(row)
        parts = [f"respondent {_format_id(key)} ({_rows_text(where, lines)})"
                 for key, where in list(by_id.items())[:MAX_REPORTED]]
        more = f" and {len(by_id) - MAX_REPORTED} more" if len(by_id) > MAX_REPORTED else ""
        raise ResponseError(f"duplicate respondent ids: {len(by_id)} id(s) occur more than once: "
                            + "; ".join(parts) + more)


def _normalise_codes(codes: Iterable[Any]) -> tuple[int, ...]:
    out = []
    for code in codes:
        value = float(code)
        if not value.is_integer():
            raise ResponseError(f"category code {code!r} is not an integer")
        out.append(int(value))
    return tuple(sorted(set(out)))


def _option_key(series: pd.Series) -> pd.Series:
    """Normalised text of raw option responses: numbers without '.0', no blanks, case folded."""
    if pd.api.types.infer_dtype(series, skipna=True) in {"string", "empty"}:
        return series.astype(object).where(series.notna(), None).str.strip().str.casefold()

    def text(value: Any) -> Any:
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value).strip().casefold()
    return series.map(text, na_action="ignore")


def _column_to_float(raw: pd.Series, string_missing: set[str], offences: _Offences, j: int) -> np.ndarray:
    """Numeric codes of one item column; non-numeric text is reported to ``offences``."""
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    text = raw.astype(object).where(raw.notna(), None)
    as_text = text.map(lambda v: v.strip() if isinstance(v, str) else v, na_action="ignore")
    blank = as_text.map(lambda v: isinstance(v, str) and (v == "" or v in string_missing), na_action="ignore")
    as_text = as_text.where(~blank.fillna(False).astype(bool), None)
    numbers = pd.to_numeric(as_text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(np.isnan(numbers) & as_text.notna().to_numpy())
    if bad.size:
        offences.add(bad, j, lambda row, _j: f"value {_format_value(raw.iloc[row])} is not a number", bad.size)
    return numbers


@dataclass
class _Scan:
    minimum: np.ndarray  # per item, smallest valid code (inf when none)
    maximum: np.ndarray
    counts: np.ndarray  # per item, number of responses
    empty_rows: np.ndarray  # rows without any response


def _scan_blocks(values: np.ndarray, numeric_codes: np.ndarray, coded: np.ndarray, checked: np.ndarray,
                 lower: np.ndarray, upper: np.ndarray, sets: dict[int, np.ndarray], offences: _Offences,
                 categories: list[tuple[int, ...] | None]) -> _Scan:
    """Turn numeric missing codes into NaN (in place, items flagged in ``coded`` only) and
    report non-finite, non-integer and out-of-range codes, one block of rows at a time."""
    n_rows, n_items = values.shape
    if values.size >= _FAST_SCAN_FROM and not sets:
        # one compiled pass; where some value is invalid, the passes below name it
        from psychometrics._fastscan import scan_codes

        fast = scan_codes(values, numeric_codes, coded, checked, lower, upper)
        if fast is not None:
            return _Scan(*fast)
    minimum = np.full(n_items, np.inf)
    maximum = np.full(n_items, -np.inf)
    counts = np.zeros(n_items, dtype=np.int64)
    empty_rows: list[np.ndarray] = []

    def report(mask: np.ndarray, start: int, describe: Any) -> None:
        count = int(np.count_nonzero(mask))
        if count:
            rows, items = np.nonzero(mask)
            offences.add(rows[:MAX_REPORTED] + start, items[:MAX_REPORTED], describe, count)

    for start in range(0, n_rows, _BLOCK_ROWS):
        block = values[start:start + _BLOCK_ROWS]
        if numeric_codes.size:
            hit = block == numeric_codes[0]
            for code in numeric_codes[1:]:
                hit |= block == code
            block[hit & coded] = np.nan
        missing = np.isnan(block)
        finite = np.isfinite(block)
        report(~finite & ~missing, start,
               lambda row, j: f"value {_format_value(values[row, j])} is not a finite number")
        fractional = finite & (np.floor(np.where(finite, block, 0.0)) != block)
        report(fractional, start, lambda row, j: f"value {_format_value(values[row, j])} is not an integer code")
        valid = finite & ~fractional
        outside = valid & checked & ((block < lower) | (block > upper))
        for j, admissible in sets.items():
            outside[:, j] |= valid[:, j] & ~np.isin(block[:, j], admissible)
        report(outside, start, lambda row, j: (f"value {_format_value(values[row, j])} is outside categories "
                                               f"{_format_categories(categories[j])}"
                                               + missing_code_hint(values[row, j])))
        good = valid & ~outside
        minimum = np.minimum(minimum, np.where(good, block, np.inf).min(axis=0))
        maximum = np.maximum(maximum, np.where(good, block, -np.inf).max(axis=0))
        counts += np.count_nonzero(~missing, axis=0)
        empty_rows.append(np.flatnonzero(missing.all(axis=1)) + start)
    return _Scan(minimum, maximum, counts, np.concatenate(empty_rows) if empty_rows else np.zeros(0, np.int64))


def _caller_stacklevel() -> int:
    """Stack level of the first frame outside this package, so that a warning points at
    the user's call whichever public function led here."""
    package = str(Path(__file__).resolve().parent)
    frame = sys._getframe(1)
    level = 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame = frame.f_back
        level += 1
    return level


def _warn_about(scan: _Scan, ids: pd.Index, items: Sequence[str], min_item_responses: int,
                lines: np.ndarray | None = None) -> None:
    counts = scan.counts
    # An item answered by everyone in a small data set is as complete as it can be.
    few = np.flatnonzero(counts < min(min_item_responses, len(ids)))
    if few.size:
        listed = ", ".join(f"'{items[j]}' ({counts[j]})" for j in few[:10])
        warnings.warn(f"{few.size} item(s) have fewer than {min_item_responses} responses: {listed}"
                      f"{' ...' if few.size > 10 else ''}", DataWarning, stacklevel=_caller_stacklevel())
    constant = np.flatnonzero((counts >= 2) & (scan.minimum == scan.maximum))
    if constant.size:
        listed = ", ".join(f"'{items[j]}' (always {_format_value(scan.minimum[j])})" for j in constant[:10])
        warnings.warn(f"{constant.size} constant item(s), every response the same: {listed}"
                      f"{' ...' if constant.size > 10 else ''}", DataWarning, stacklevel=_caller_stacklevel())
    empty = scan.empty_rows
    if empty.size:
        listed = ", ".join(f"respondent {_format_id(ids[r])} ({_row_text(r, lines)})" for r in empty[:MAX_REPORTED])
        warnings.warn(f"{empty.size} respondent(s) gave no responses: {listed}"
                      f"{' ...' if empty.size > MAX_REPORTED else ''}", DataWarning, stacklevel=_caller_stacklevel())


#: Reads an instrument file into an object with ``item_specs()`` (:class:`InstrumentLike`). The
#: instrument module sits above this one, so it registers its reader here when imported
#: (``psychometrics.load_responses`` imports it); this module never imports it.
INSTRUMENT_READERS: list[Any] = []


def _read_instrument(path: str | os.PathLike[str]) -> Any:
    if not INSTRUMENT_READERS:
        raise TypeError(f"instrument={str(path)!r} is a path; pass Instrument.load(path) (psychometrics.instrument) "
                        "or call psychometrics.load_responses, which reads instrument files")
    return INSTRUMENT_READERS[-1](path)


def load_responses(frame_or_path: Any, *, categories: Mapping[str, Any] | Sequence[int] | None = None,
                   missing_codes: Iterable[Any] = (), instrument: Any = None, id_column: str | None = None,
                   items: Sequence[str] | None = None, exclude: Sequence[str] | None = None,
                   max_categories: int | None = 20, min_item_responses: int = 5, sep: str | None = None,
                   encoding: str | None = None, warn: bool = True) -> Responses:
    """Turn a DataFrame, array or file into a validated :class:`Responses`.

    Parameters
    ----------
    frame_or_path : DataFrame, ndarray, Responses, str or path
        Persons as rows, items as columns. Files: ``.csv``/``.tsv`` (leading ``#`` lines are
        skipped), ``.parquet`` (needs ``pyarrow``) or SPSS ``.sav`` (needs ``pyreadstat``);
        both come with ``pip install 'psychometrics[io]'``. Array columns are named
        ``item1``, ``item2``...
    categories : mapping or sequence of int, optional
        Admissible codes: item id -> codes, or one sequence of codes for every item. Items
        without given categories (and no instrument) get the contiguous range from their
        smallest to their largest observed code.
    missing_codes : iterable, optional
        Codes that mean "no answer" (e.g. ``(-9, 99)``, or text such as ``"NA"``); they
        become NaN. Blank cells are always missing.
    instrument : Instrument or path, optional
        Supplies the item ids (every data column must be an item or one of the
        instrument's data columns), categories, option scoring and reverse keying: a
        reverse-keyed item's code x becomes ``min + max - x``. Without an instrument no
        item is reversed. A :class:`Responses` is taken as already keyed and scored: the
        instrument only checks and selects its items.
        Blank cells are always missing. There are no default codes: a code such as ``-9`` or
        ``99`` that lies apart from the other codes of an item is refused with the
        ``missing_codes`` to declare (see ``max_categories``).
    id_column : str, optional
        Column holding respondent ids. By default the instrument's id column, else (when the
        frame has a plain 0..n-1 index) the one column that looks like an id: by its name
        (:data:`ID_COLUMNS`, ``RespondentID``, ``subject``, ``candidate``, ``employee_id``,
        ``Unnamed: 0``...) or, failing that, by its values (all present and different, not
        codes an item could hold). A choice by a name outside :data:`ID_COLUMNS` is stated
        with a :class:`DataWarning`; several candidates are an error. Ids read from a file
        are text (``007`` stays ``007``). Without an id column, the frame's index.
    items : sequence of str, optional
        Item columns to keep (without an instrument); the other columns become metadata.
    exclude : sequence of str, optional
        Columns that are not items (demographics, dates, comments): kept as metadata.
        Without ``items`` and without an instrument every other column must look like an
        item: text, dates, an unnamed column and columns named like demographics (``age``,
        ``gender``, ``department``...) are refused, naming them and this option.
    max_categories : int or None, default 20
        Widest category range inferred from the data (items without declared categories).
        A wider range, or a code beyond a gap of unused codes that holds few responses or is
        a typical missing code (``-9``, ``99``...), is an error naming the item and the
        values: a typo, an undeclared missing code, or a column that is not an item. Raise
        it for sliders (``max_categories=101`` for 0-100); None turns the check off.
    min_item_responses : int, default 5
        Items with fewer responses (fewer than the number of persons, when that is
        smaller) raise a :class:`DataWarning`.
    sep, encoding : str, optional
        Separator and encoding of a text file (default: ``,``, or tab for ``.tsv``; UTF-8).
        A file that does not decode, or whose header only another separator would split, is
        an error naming the option to pass. Errors about a file's cells give its line
        numbers (``line 214``) instead of row positions.
    warn : bool, default True
        Issue the data warnings (constant items, sparse items, respondents without any
        response, items of ``instrument`` absent from the data). Errors are raised either way.

    Returns
    -------
    Responses
        float64 codes with NaN for missing, categories per item, and the non-item columns as
        ``metadata``.

    Raises
    ------
    ResponseError
        Empty data; duplicate item or respondent ids; columns that are not items of the
        instrument; non-numeric, non-integer, non-finite or out-of-range codes; unknown
        options. Messages name respondent id, row, item, column and value; when many cells
        are wrong the first few are listed with the total count.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"q1": [1, 2, 5], "q2": [4, -9, 3]}, index=["a", "b", "c"])
    >>> r = load_responses(frame, categories=range(1, 6), missing_codes=[-9], warn=False)
    >>> r.frame["q2"].tolist()
    [4.0, nan, 3.0]
    >>> r.categories["q1"]
    (1, 2, 3, 4, 5)
    """
    if isinstance(instrument, (str, os.PathLike)):
        instrument = _read_instrument(instrument)
    missing_codes = list(missing_codes)
    if max_categories is not None and max_categories < 2:
        raise ValueError(f"max_categories must be at least 2, got {max_categories}")
    # columns known not to be items (excluded, or the instrument's data columns) keep a text
    # file's text: group labels and roles as written
    not_items = {str(name) for name in (exclude or ())}
    if instrument is not None:
        not_items |= set(instrument.metadata_columns())
    frame, given, private, lines = _to_frame(frame_or_path, sep=sep, encoding=encoding, id_column=id_column,
                                             text=not_items)
    if given is None and instrument is not None and isinstance(frame, pd.DataFrame) \
            and frame.attrs.get(KEYED_ATTR) == instrument.id:
        # the .frame of responses this instrument prepared: keying it again would reverse it back
        given = Responses(frame, {item: spec.categories for item, spec in instrument.item_specs().items()
                                  if item in frame.columns}, None, instrument.id)
    if given is not None and categories is None and instrument is None:
        categories = given.categories
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ResponseError(f"the response data are empty ({frame.shape[0]} rows, {frame.shape[1]} columns)")
    _check_duplicate_columns(list(frame.columns))
    names = [str(c) for c in frame.columns]
    position = {name: j for j, name in enumerate(names)}
    excluded = [str(name) for name in (exclude or ())]
    unknown_excluded = [name for name in excluded if name not in position]
    if unknown_excluded:
        raise ResponseError(f"excluded column(s) not in the data: {', '.join(unknown_excluded)}; columns are "
                            f"{_list_columns(names)}")
    wanted = {str(i) for i in items} if items is not None else set()
    width = max_categories if max_categories is not None else 10**9

    id_name = _find_id_column(frame, id_column, instrument, skip=set(excluded) | wanted, max_categories=width,
                              warn=warn and given is None)
    if id_name is not None:
        id_values = frame.iloc[:, position[id_name]]
        if lines is not None and not (pd.api.types.is_object_dtype(id_values.dtype)
                                      or pd.api.types.is_string_dtype(id_values.dtype)):
            # ids from a file are text, even when they look like numbers ('007' stays '007')
            id_values = id_values.astype(object).where(id_values.isna(), id_values.astype(str))
        ids = pd.Index(id_values, name=id_name)
    else:
        ids = frame.index
    _check_ids(ids, lines)

    specs: dict[str, ItemSpec] = {}
    rest = [name for name in names if name != id_name]
    if instrument is not None:
        specs = instrument.item_specs()
        extra = set(instrument.metadata_columns()) | set(excluded)
        if items is not None:
            not_items = [str(i) for i in items if str(i) not in specs]
            if not_items:
                raise ResponseError(f"{', '.join(not_items)}: not item(s) of instrument '{instrument.id}'")
            extra |= {name for name in rest if name in specs and name not in wanted}
        unknown = [name for name in rest if name not in specs and name not in extra]
        if unknown:
            listed = ", ".join(f"'{name}' (column {position[name]})" for name in unknown[:10])
            raise ResponseError(f"{len(unknown)} column(s) are not items of instrument '{instrument.id}': "
                                f"{listed}{' ...' if len(unknown) > 10 else ''}; if they are not items, leave them "
                                f"out with exclude=[...] (command line: --exclude {','.join(unknown[:10])})")
        item_ids = [name for name in rest if name in specs and name not in extra]
        if given is not None:
            # Already validated, keyed and scored: keying it again would reverse it back.
            return given.subset(item_ids)
        absent = [item for item in specs if item not in position]
        if absent and warn:
            warnings.warn(f"{len(absent)} item(s) of instrument '{instrument.id}' are not in the data: "
                          f"{', '.join(absent[:10])}{' ...' if len(absent) > 10 else ''}", DataWarning,
                          stacklevel=_caller_stacklevel())
    elif items is not None:
        missing_items = [str(i) for i in items if str(i) not in position]
        if missing_items:
            raise ResponseError(f"item(s) not in the data: {', '.join(missing_items)}; columns are "
                                f"{_list_columns(names)}")
        item_ids = [str(i) for i in items if str(i) not in excluded]
    else:
        item_ids = [name for name in rest if name not in excluded]
        if given is None:
            _refuse_non_items(frame, names, item_ids, position, missing_codes)
    if not item_ids:
        raise ResponseError("the response data are empty (no item columns)")
    meta_names = [name for name in rest if name not in set(item_ids)]

    # Admissible codes per item: instrument, then the caller's, else inferred below.
    declared: list[tuple[int, ...] | None] = []
    for item in item_ids:
        codes: Any = None
        if item in specs:
            codes = specs[item].categories
        elif isinstance(categories, Mapping):
            codes = categories.get(item)
        elif categories is not None:
            codes = categories
        declared.append(_normalise_codes(codes) if codes is not None else None)

    codes_list = list(missing_codes)
    numeric_codes = np.array([float(c) for c in codes_list if isinstance(c, (int, float, np.number))
                              and not isinstance(c, bool)], dtype=np.float64)
    string_codes = {str(c).strip() for c in codes_list if isinstance(c, str)}
    string_codes |= {_format_value(float(c)) for c in numeric_codes}

    columns = [position[item] for item in item_ids]
    offences = _Offences(ids.to_numpy(), item_ids, columns, lines)
    raw_items = frame if columns == list(range(frame.shape[1])) else frame.iloc[:, columns]
    n_rows, n_items = raw_items.shape
    option_items = [j for j, item in enumerate(item_ids) if item in specs and specs[item].options]
    simple_numeric = not option_items and all(
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype) for dtype in raw_items.dtypes)
    reversing = any(item in specs and specs[item].reverse for item in item_ids)
    shared = (_shared_float_view(frame) if simple_numeric and private is None and raw_items is frame
              and not numeric_codes.size and not reversing else None)
    if simple_numeric and private is not None and raw_items is frame:
        values = private
    elif shared is not None:
        values = shared
    elif simple_numeric:
        # order="K" keeps pandas' column-major block as it is: a plain copy, not a transpose.
        values = np.array(raw_items.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64, order="K")
    else:
        values = np.empty((n_rows, n_items), dtype=np.float64)
        for j in range(n_items):
            raw = raw_items.iloc[:, j]
            if j in option_items:
                values[:, j] = _score_options(raw, specs[item_ids[j]], string_codes, offences, j)
            else:
                values[:, j] = _column_to_float(raw, string_codes, offences, j)

    checked = np.array([codes is not None and j not in option_items for j, codes in enumerate(declared)])
    lower = np.array([codes[0] if codes else -np.inf for codes in declared], dtype=np.float64)
    upper = np.array([codes[-1] if codes else np.inf for codes in declared], dtype=np.float64)
    sets = {j: np.array(codes, dtype=np.float64) for j, codes in enumerate(declared)
            if codes is not None and j not in option_items and len(codes) != codes[-1] - codes[0] + 1}
    # Option items had their missing codes matched as raw text; their scores are not codes.
    coded = np.ones(n_items, dtype=bool)
    coded[option_items] = False
    scan = _scan_blocks(values, numeric_codes, coded, checked, lower, upper, sets, offences, declared)
    offences.raise_if_any()
    minimum, maximum = scan.minimum, scan.maximum
    if given is None:
        # without max_categories only a range that could not even be listed is refused
        _check_inferred_categories(values, item_ids, columns, declared, option_items, minimum, maximum,
                                   max_categories if max_categories is not None else CATEGORY_LIMIT,
                                   gaps=max_categories is not None)

    final: dict[str, tuple[int, ...]] = {}
    for j, item in enumerate(item_ids):
        if declared[j] is not None:
            final[item] = declared[j]
        elif np.isfinite(minimum[j]):
            final[item] = tuple(range(int(minimum[j]), int(maximum[j]) + 1))
        else:
            final[item] = ()
        if item in specs and specs[item].reverse and final[item]:
            low, high = final[item][0], final[item][-1]
            values[:, j] = (low + high) - values[:, j]

    if shared is not None:
        # pandas' copy-on-write: the result shares the caller's block until either is written
        result = frame.set_axis(ids, axis=0).set_axis(pd.Index(item_ids), axis=1)
        result.attrs = {}
    else:
        result = pd.DataFrame(values, index=ids, columns=pd.Index(item_ids), copy=False)
    keyed = instrument.id if instrument is not None else (given.keyed if given is not None else None)
    if keyed is not None:
        result.attrs[KEYED_ATTR] = keyed
    metadata = None
    if meta_names:
        metadata = frame.loc[:, meta_names].copy()
        metadata.index = ids
        allowed_values = getattr(instrument, "metadata_values", None)
        if allowed_values is not None:
            _check_metadata(metadata, allowed_values(), position, ids)
    elif given is not None and given.metadata is not None:
        metadata = given.metadata
    if warn:
        _warn_about(scan, ids, item_ids, min_item_responses, lines)
    source = {item: position[item] for item in item_ids}
    if given is not None and given.columns is not None:
        source = {item: given.columns.get(item, j) for item, j in source.items()}
    return Responses(result, final, metadata, keyed, source)


def _shared_float_view(frame: pd.DataFrame) -> np.ndarray | None:
    """The frame's own float64 block when all of it is one (no copy), else None.

    Only for reading: the checks write into their matrix only to turn numeric missing codes
    into NaN or to reverse-key, and the caller takes this path only when there is neither.
    The view pandas hands out is read-only; it is made writeable (its base is) because the
    compiled checks are compiled for writeable arrays, and it is never written.
    """
    if len(frame.dtypes) == 0 or not all(dtype == np.float64 for dtype in frame.dtypes):
        return None
    view = frame.to_numpy(dtype=np.float64, copy=False)
    if view.ndim != 2 or view.base is None:
        return None
    try:
        view.flags.writeable = True
    except ValueError:
        return None
    if not view.flags.writeable:
        return None
    return view


def _refuse_non_items(frame: pd.DataFrame, names: Sequence[str], item_ids: Sequence[str],
                      position: Mapping[str, int], missing_codes: Iterable[Any]) -> None:
    """One error naming every column about to become an item that does not look like one."""
    from psychometrics._screen import non_item_columns

    text_missing = {str(c).strip() for c in missing_codes}
    found = non_item_columns(frame, names, item_ids, text_missing)
    if not found:
        return
    listed = "; ".join(f"'{name}' (column {position[name]}: {why})" for name, why in found[:MAX_REPORTED])
    more = f" and {len(found) - MAX_REPORTED} more" if len(found) > MAX_REPORTED else ""
    which = ",".join(name for name, _ in found)
    raise ResponseError(f"{len(found)} column(s) do not look like items: {listed}{more}; leave them out with "
                        f"exclude=[...] (command line: --exclude {which}) or list the items with items=[...] "
                        "(--items)")


def _check_inferred_categories(values: np.ndarray, items: Sequence[str], columns: Sequence[int],
                               declared: Sequence[tuple[int, ...] | None], option_items: Sequence[int],
                               minimum: np.ndarray, maximum: np.ndarray, max_categories: int,
                               gaps: bool = True) -> None:
    from psychometrics._screen import category_problems

    inferred = np.array([codes is None and j not in option_items for j, codes in enumerate(declared)])
    if not inferred.any():
        return
    problems = category_problems(values, items, columns, inferred, minimum, maximum, max_categories, gaps)
    if not problems:
        return
    if len(problems) == 1:
        raise ResponseError(problems[0].message)
    shown = problems[:MAX_REPORTED]
    head = f"{len(problems)} items have implausible codes" + (f"; the first {len(shown)}:" if len(shown) < len(
        problems) else ":")
    raise ResponseError(head + "\n  " + "\n  ".join(p.message for p in shown))


def _check_metadata(metadata: pd.DataFrame, allowed: Mapping[str, Sequence[str]], position: Mapping[str, int],
                    ids: pd.Index) -> None:
    """Values of declared data columns (e.g. rater role) must be among the declared ones."""
    for name, values in allowed.items():
        if name not in metadata.columns:
            continue
        keys = _option_key(metadata[name])
        bad = np.flatnonzero(keys.notna().to_numpy() & ~keys.isin({str(v).casefold() for v in values}).to_numpy())
        if bad.size:
            lines = [f"respondent {_format_id(ids[row])} (row {row}), column '{name}' (column {position[name]}): "
                     f"value {_format_value(metadata[name].iloc[row])} is not one of {', '.join(map(str, values))}"
                     for row in bad[:MAX_REPORTED]]
            if bad.size == 1:
                raise ResponseError(lines[0])
            head = f"{bad.size} invalid values in column '{name}':\n  " + "\n  ".join(lines)
            raise ResponseError(head)


def _score_options(raw: pd.Series, spec: ItemSpec, string_missing: set[str], offences: _Offences,
                   j: int) -> np.ndarray:
    """Scores of one option-choice item; unknown options are reported to ``offences``."""
    lookup = {str(option).strip().casefold(): float(score) for option, score in (spec.options or {}).items()}
    missing = {code.casefold() for code in string_missing} | {""}
    keys = _option_key(raw)
    is_missing = keys.isna() | keys.isin(missing)
    scores = np.array(keys.map(lookup).to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    bad = np.flatnonzero(~is_missing.to_numpy() & np.isnan(scores))
    if bad.size:
        options = ", ".join(str(option) for option in (spec.options or {}))
        offences.add(bad, j, lambda row, _j: (f"value {_format_value(raw.iloc[row])} is not one of the "
                                              f"options {options}"), bad.size)
    scores[is_missing.to_numpy()] = np.nan
    return scores


def _small_integer_index(column: np.ndarray, observed: np.ndarray, table: np.ndarray) -> np.ndarray | None:
    """:func:`category_index` by a lookup table when the codes are distinct integers spanning at
    most 256 values (a few passes instead of a sort and a binary search per response); None
    when the codes are not such or some response is none of them (the caller names it)."""
    if table.size == 0 or not np.all(table == np.round(table)):
        return None
    low = table.min()
    span = int(table.max() - low)
    if span > 255 or np.unique(table).size != table.size:
        return None
    slot = (table - low).astype(np.int64)
    position = np.full(span + 1, -1, dtype=np.int64)
    position[slot] = np.arange(table.size)
    value = np.full(span + 1, np.nan)
    value[slot] = table
    with np.errstate(invalid="ignore"):
        k = np.clip(np.where(observed, column - low, 0.0), 0, span).astype(np.int64)
    if np.any(observed & (value[k] != column)):
        return None
    return np.where(observed, position[k], -1)


def category_index(column: np.ndarray, codes: Sequence[float] | np.ndarray | None = None, *,
                   item: str | None = None, position: int | None = None,
                   person_ids: Sequence[Any] | pd.Index | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The one category recoder: each response of one item as the index of its code, -1 for NaN.

    Parameters
    ----------
    column : ndarray (persons,)
        Response codes of one item, NaN for missing.
    codes : sequence, optional
        The item's codes; a response is coded as its position in ``codes`` (their order, which
        need not be sorted). Default: the distinct observed values, ascending.
    item, position, person_ids : optional
        Item id, its column and the respondent ids, for the error message.

    Returns
    -------
    index : ndarray of int64 (persons,)
        Position of every response in ``codes``; -1 where missing (never a category).
    codes : ndarray of float64
        The codes used.

    Raises
    ------
    ResponseError
        When a response is not one of ``codes`` (naming respondent, row, item, column, value).

    Examples
    --------
    >>> index, codes = category_index(np.array([3.0, np.nan, 1.0, 3.0]))
    >>> index.tolist(), codes.tolist()
    ([1, -1, 0, 1], [1.0, 3.0])
    """
    column = np.asarray(column, dtype=np.float64)
    observed = ~np.isnan(column)
    if codes is None:
        table, inverse = np.unique(column[observed], return_inverse=True)
        index = np.full(column.shape, -1, dtype=np.int64)
        index[observed] = inverse.reshape(-1)
        return index, table
    table = np.asarray(codes, dtype=np.float64)
    fast = _small_integer_index(column, observed, table)
    if fast is not None:
        return fast, table
    order = np.argsort(table, kind="stable")
    sorted_codes = table[order]
    at = np.minimum(np.searchsorted(sorted_codes, np.where(observed, column, sorted_codes[0])), len(table) - 1)
    bad = observed & (sorted_codes[at] != column)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = column[row]
        shown = int(value) if float(value).is_integer() else value
        who = f"respondent {person_ids[row]!r} (row {row}), " if person_ids is not None else f"row {row}, "
        where = f"item {item!r}" + (f" (column {position})" if position is not None else "") if item else "the item"
        listed = tuple(int(c) if float(c).is_integer() else float(c) for c in table)
        raise ResponseError(f"{who}{where}: value {shown} is not one of the item's categories {listed}"
                            f" ({int(bad.sum())} such value(s) in this column)")
    return np.where(observed, order[at], -1).astype(np.int64), table
