"""Reading delimited text files without guessing: encoding, separator and field counts are checked.

A spreadsheet or survey export that pandas would read "successfully" can still be read wrongly:
a data line with one field more than the header makes pandas take the first column as an
index and shift every other column by one; a short line is padded with blanks; a file that is
not UTF-8 fails deep inside the parser; a semicolon-separated file becomes one column. Here each
of these is an error that names the file, the line and the option to pass (``sep=``,
``encoding=``; ``--sep``, ``--encoding`` on the command line).

:func:`read_text_table` also returns the file line number of every data row, so that errors
about a cell point at the line a person opens in an editor.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from psychometrics.errors import ResponseError

__all__ = ["read_text_table", "SEPARATORS"]

#: Separators a header line is inspected for when the chosen one splits it into one field.
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}

# Lines are counted in blocks of this many bytes so that a 100 MB file needs a few small masks.
_BLOCK_BYTES = 1 << 23

_ASCII_COMPATIBLE = re.compile(r"^(utf[-_]?8(-sig)?|latin[-_]?1|iso[-_]?8859.*|cp125\d|windows-125\d|ascii|"
                               r"us-ascii|mac[-_]?roman)$", re.IGNORECASE)


def _show_sep(sep: str) -> str:
    return {"\t": "\\t"}.get(sep, sep)


def _decode(raw: bytes, encoding: str, source: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start:exc.start + 1].hex()
        hint = ("pass the file's encoding: encoding='latin-1' (command line: --encoding latin-1); "
                "Excel on Windows usually writes cp1252")
        if encoding.lower().replace("_", "-") not in {"utf-8", "utf-8-sig", "utf8"}:
            hint = "pass the file's encoding with encoding= (command line: --encoding)"
        raise ResponseError(f"{source} is not {encoding} text: byte 0x{bad} on line {line} cannot be decoded; "
                            f"{hint}") from None
    except LookupError:
        raise ResponseError(f"unknown encoding {encoding!r} for {source}") from None


def _header_fields(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep), [])


def _check_separator(header_line: str, fields: list[str], sep: str, source: str) -> None:
    if len(fields) > 1:
        return
    others = [(other, name) for other, name in SEPARATORS.items()
              if other != sep and len(_header_fields(header_line, other)) > 1]
    if others:
        other, name = others[0]
        raise ResponseError(f"{source}: the header line has one column when split by {_show_sep(sep)!r} but "
                            f"{len(_header_fields(header_line, other))} when split by {_show_sep(other)!r}: the "
                            f"file looks {name}-separated; pass sep={_show_sep(other)!r} "
                            f"(command line: --sep '{_show_sep(other)}')")


def _line_fields_unquoted(raw: bytes, start: int, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Field count and 1-based line number of every non-blank line after byte ``start``.

    Only for text without quote characters, where a separator always separates fields; the
    bytes are scanned in blocks (vectorized), not line by line.
    """
    sep_byte = ord(sep)
    buffer = np.frombuffer(raw, dtype=np.uint8)
    n = buffer.size
    counts: list[np.ndarray] = []
    numbers: list[np.ndarray] = []
    line_before = raw.count(b"\n", 0, start)
    position = start
    while position < n:
        end = min(position + _BLOCK_BYTES, n)
        if end < n:
            cut = raw.rfind(b"\n", position, end)
            end = cut + 1 if cut >= position else raw.find(b"\n", end) + 1 or n
        block = buffer[position:end]
        newlines = np.flatnonzero(block == 10)
        starts = np.concatenate(([0], newlines + 1))
        stops = np.concatenate((newlines, [block.size]))
        if starts[-1] >= block.size:  # the block ends with a newline: no line after it
            starts, stops = starts[:-1], stops[:-1]
        length = stops - starts
        # "\r\n" line ends: the carriage return is not content
        has_cr = length > 0
        has_cr[has_cr] = block[stops[has_cr] - 1] == 13
        length = length - has_cr
        # separators per line: where the line boundaries fall among the separator positions
        separators = np.flatnonzero(block == sep_byte)
        per_line = np.searchsorted(separators, stops) - np.searchsorted(separators, starts)
        keep = length > 0
        counts.append(per_line[keep] + 1)
        numbers.append(np.flatnonzero(keep) + line_before + 1)
        line_before += starts.size
        position = end
    if not counts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(counts).astype(np.int64), np.concatenate(numbers).astype(np.int64)


def _line_fields_quoted(text: str, sep: str, skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Field count and first line number of every record, through the csv module (quoted fields
    may hold separators and line breaks)."""
    handle = io.StringIO(text, newline="")
    for _ in range(skip):
        handle.readline()
    reader = csv.reader(handle, delimiter=sep)
    counts: list[int] = []
    numbers: list[int] = []
    previous = 0
    for record in reader:
        first = skip + previous + 1
        previous = reader.line_num
        if not record:
            continue
        counts.append(len(record))
        numbers.append(first)
    return np.asarray(counts, np.int64), np.asarray(numbers, np.int64)


def _check_field_counts(counts: np.ndarray, numbers: np.ndarray, n_header: int, sep: str, source: str) -> None:
    bad = np.flatnonzero(counts != n_header)
    if not bad.size:
        return
    first = bad[0]
    lines = ", ".join(str(numbers[k]) for k in bad[:5])
    more = f" and {bad.size - 5} more" if bad.size > 5 else ""
    found = counts[first]
    if found > n_header:
        why = (f"line {numbers[first]} has {found} fields but the header has {n_header}"
               + (f" (a trailing {_show_sep(sep)!r} at the end of the data lines?)" if found == n_header + 1 else ""))
        fix = ("remove the extra separators, or give the extra column a name in the header; "
               "the columns are not shifted silently")
    else:
        why = f"line {numbers[first]} has {found} fields but the header has {n_header}"
        fix = "the line looks truncated or split; repair it (a separator inside an unquoted text field?)"
    raise ResponseError(f"{source}: {bad.size} data line(s) do not have the header's {n_header} fields: {why}; "
                        f"lines {lines}{more}; {fix}")


def read_text_table(path: Path, *, sep: str | None = None, encoding: str | None = None,
                    text_columns: Callable[[str], bool] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a delimited text file, checking its dialect; return the frame and each row's line number.

    Parameters
    ----------
    path : Path
        A ``.csv``/``.txt`` (comma by default) or ``.tsv``/``.tab`` (tab) file. Leading lines
        starting with ``#`` are skipped.
    sep : str, optional
        Field separator, one character; by default from the suffix.
    encoding : str, optional
        Text encoding; by default UTF-8 (with or without a byte-order mark).
    text_columns : callable, optional
        Column name -> whether to read it as text, not numbers (respondent ids: ``007`` stays
        ``007``).

    Raises
    ------
    ResponseError
        Empty file; bytes that are not valid in ``encoding`` (naming the line and the
        option to pass); a header that splits into one column but would split into several
        with another common separator; duplicate column names; any data line whose field
        count differs from the header's (naming the lines).
    """
    source = f"response file {str(path)!r}"
    suffix = path.suffix.lower()
    if sep is None:
        sep = "\t" if suffix in {".tsv", ".tab"} else ","
    if sep in {"\\t", "tab"}:
        sep = "\t"
    if len(sep) != 1:
        raise ResponseError(f"the separator must be one character, got {sep!r}")
    encoding = encoding or "utf-8-sig"
    raw = path.read_bytes()
    if not raw.strip():
        raise ResponseError(f"{source} is empty")
    text = _decode(raw, encoding, source)
    if text.startswith("\ufeff"):
        text = text[1:]
    skip = 0
    offset = 0
    while offset < len(text) and text.startswith("#", offset):
        skip += 1
        newline = text.find("\n", offset)
        offset = len(text) if newline < 0 else newline + 1
    header_end = text.find("\n", offset)
    header_line = (text[offset:] if header_end < 0 else text[offset:header_end]).rstrip("\r")
    fields = _header_fields(header_line, sep)
    if not fields or all(not name.strip() for name in fields):
        raise ResponseError(f"{source} is empty (no header line)")
    _check_separator(header_line, fields, sep, source)
    # a blank header field is named as pandas names it: 'Unnamed: 0' is a written row index
    names = [name.strip() or f"Unnamed: {k}" for k, name in enumerate(fields)]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        parts = [f"item '{name}' appears in columns {', '.join(str(k) for k, n in enumerate(names) if n == name)}"
                 for name in duplicated]
        raise ResponseError(f"duplicate item ids in {source}: " + "; ".join(parts))

    if '"' in text or not _ASCII_COMPATIBLE.match(encoding) or ord(sep) > 127:
        counts, numbers = _line_fields_quoted(text, sep, skip + 1)
    else:
        start_byte = 0
        for _ in range(skip + 1):  # comment lines and the header
            start_byte = raw.find(b"\n", start_byte) + 1 or len(raw)
        counts, numbers = _line_fields_unquoted(raw, start_byte, sep)
    _check_field_counts(counts, numbers, len(fields), sep, source)

    dtype = {name: str for name in names if text_columns is not None and text_columns(name)}
    frame = pd.read_csv(io.StringIO(text), sep=sep, skiprows=skip, header=0, names=names, low_memory=False,
                        skipinitialspace=True, index_col=False, dtype=dtype or None)
    if len(frame) != numbers.size:
        # a record pandas reads differently from the csv module (e.g. an unusual quote style):
        # keep counting rows rather than report wrong lines
        numbers = np.arange(len(frame), dtype=np.int64) + skip + 2
    return frame, numbers
