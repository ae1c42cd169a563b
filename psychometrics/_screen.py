"""Which columns of a response file are ids, which are items, and whether inferred categories make sense.

Survey and HR exports carry more than answers: a row index written by pandas (``Unnamed: 0``),
respondent ids under many names, dates, free comments, demographic columns. Treated as items
they give nonsense (an id column becomes an item with thousands of categories) or exhaust
memory. :mod:`psychometrics.data` asks these helpers before it trusts a column: an id column is
used when exactly one column looks like one (and the choice is stated), a column that does not
look like an item is refused with the option that selects it (``items=``, ``exclude=``), and a
category range inferred from the data is refused when it is implausibly wide or has a gap of
unused codes that points at a typo or an undeclared missing code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEMOGRAPHIC_NAMES",
    "ID_NAMES",
    "TYPICAL_MISSING_CODES",
    "category_problems",
    "id_candidates",
    "non_item_columns",
]

#: Normalised column names (lower case, letters and digits only) taken for respondent ids.
ID_NAMES = frozenset({
    "id", "respondentid", "respondent", "respondentno", "personid", "person", "subject", "subjectid", "subj",
    "candidate", "candidateid", "employee", "employeeid", "employeeno", "employeenumber", "participant",
    "participantid", "pid", "uid", "userid", "responseid", "caseid", "case", "recordid", "studentid",
    "applicantid", "unnamed0", "rowid", "index",
})

#: Normalised column names that describe the respondent or the response, not an answer.
DEMOGRAPHIC_NAMES = frozenset({
    "age", "gender", "sex", "country", "nationality", "language", "department", "dept", "jobtitle", "position",
    "education", "edu", "tenure", "income", "region", "city", "zip", "zipcode", "postcode", "ethnicity", "race",
    "site", "location", "date", "time", "timestamp", "starttime", "endtime", "startdate", "enddate",
    "duration", "durationseconds", "durationinseconds", "submitted", "submitdate", "completed", "ipaddress",
    "ip", "email", "name", "firstname", "lastname", "comment", "comments", "remarks", "notes", "feedback",
    "status", "weight", "wave", "cohort", "birthyear", "yearofbirth", "maritalstatus", "married",
    "handedness", "engnat", "source", "browser", "device", "progress", "finished",
})

#: Codes that exports commonly use for "no answer", "refused" or "not applicable".
TYPICAL_MISSING_CODES = frozenset({-999, -998, -99, -98, -97, -9, -8, -7, 9, 99, 98, 97, 999, 998, 88, 888})

# A gap of unused codes points at a typo or a missing code when the codes beyond it hold at
# most this share of the item's responses.
_STRAY_SHARE = 0.05


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _named_like_id(name: str) -> bool:
    if normalise(name) in ID_NAMES:
        return True
    # "RespondentID", "response_id", "Employee No.": an id by its ending
    return bool(re.search(r"(^|[_\s.\-]|[a-z])(ID|Id|id)$", str(name))) and not str(name).lower().endswith("grid")


def _id_like_content(column: pd.Series, max_categories: int) -> bool:
    """All values present and distinct, and not something an item could hold."""
    n = len(column)
    if n < 2 or column.isna().any():
        return False
    if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_float_dtype(column.dtype):
        return False
    if pd.api.types.is_integer_dtype(column.dtype):
        return n > max_categories and column.is_unique
    if column.dtype != object and not pd.api.types.is_string_dtype(column.dtype):
        return False
    text = column.astype(str).str.strip()
    # free comments have blanks inside; ids do not
    if text.str.contains(r"\s", regex=True).any() or (text.str.len() > 40).any():
        return False
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all() and n <= max_categories:
        return False
    if numbers.isna().all() and _looks_like_dates(text):
        return False  # distinct timestamps are not ids
    return bool(text.is_unique)


def id_candidates(frame: pd.DataFrame, names: Sequence[str], skip: set[str], max_categories: int) -> \
        tuple[list[str], list[str]]:
    """Columns that look like respondent ids: (by their name, by their content only)."""
    by_name = [name for name in names if name not in skip and _named_like_id(name)]
    by_content = [name for j, name in enumerate(names)
                  if name not in skip and name not in by_name and _id_like_content(frame.iloc[:, j], max_categories)]
    return by_name, by_content


def _sample_text(values: pd.Series, n: int = 2) -> str:
    shown = [repr(str(v).strip()[:30]) for v in values.dropna().unique()[:n]]
    return ", ".join(shown)


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.dropna().astype(str).str.strip()
    sample = sample[sample != ""].head(20)
    if sample.empty or not sample.str.contains(r"\d", regex=True).all():
        return False
    if not sample.str.contains(r"[-/:.]", regex=True).all():
        return False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def non_item_columns(frame: pd.DataFrame, names: Sequence[str], candidates: Sequence[str],
                     text_missing: set[str]) -> list[tuple[str, str]]:
    """Among ``candidates`` (columns about to become items), those that do not look like items,
    each with the reason: (name, reason)."""
    position = {name: j for j, name in enumerate(names)}
    found: list[tuple[str, str]] = []
    for name in candidates:
        column = frame.iloc[:, position[name]]
        key = normalise(name)
        if key.startswith("unnamed"):
            found.append((name, "a column without a header name (pandas writes its row index as 'Unnamed: 0')"))
        elif pd.api.types.is_datetime64_any_dtype(column.dtype) or isinstance(column.dtype, pd.PeriodDtype):
            found.append((name, "dates"))
        elif key in DEMOGRAPHIC_NAMES:
            found.append((name, "a demographic or bookkeeping column by its name"))
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            text = column.astype(object).where(column.notna(), None).map(
                lambda v: v.strip() if isinstance(v, str) else v, na_action="ignore")
            text = text[text.notna() & ~text.isin(text_missing | {""})]
            if text.empty:
                continue
            numbers = pd.to_numeric(text, errors="coerce")
            non_numeric = text[numbers.isna()]
            # one or two typos are cell errors; a column of words is not an item
            if len(non_numeric) >= max(3, 0.5 * len(text)) or len(non_numeric) == len(text):
                if _looks_like_dates(non_numeric):
                    found.append((name, f"dates such as {_sample_text(non_numeric, 1)}"))
                else:
                    found.append((name, f"text such as {_sample_text(non_numeric)}"))
    return found


@dataclass(frozen=True)
class CategoryProblem:
    """An item whose inferred categories are implausible."""

    item: str
    message: str


def _fmt(code: float) -> str:
    return str(int(code)) if float(code).is_integer() else repr(float(code))


def _ranges(codes: Sequence[int]) -> str:
    codes = list(codes)
    if not codes:
        return ""
    parts: list[str] = []
    start = previous = codes[0]
    for code in codes[1:] + [None]:  # type: ignore[list-item]
        if code is not None and code == previous + 1:
            previous = code
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if code is not None:
            start = previous = code
    return ", ".join(parts)


def _stray_codes(codes: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The observed codes beyond the largest gap of unused codes when they look stray.

    ``codes`` are the distinct observed codes (sorted) and ``counts`` their frequencies.
    Stray: the gap holds two or more unused codes, is at least half as wide as the span of the
    codes on the other side, and the codes beyond it are all typical missing codes or hold at
    most 5% of the responses. Returns (stray codes, main codes) or None.
    """
    if codes.size < 2:
        return None
    gaps = np.diff(codes) - 1
    k = int(np.argmax(gaps))
    gap = gaps[k]
    if gap < 2:
        return None
    low, high = codes[:k + 1], codes[k + 1:]
    low_count, high_count = counts[:k + 1].sum(), counts[k + 1:].sum()

    def typical(side: np.ndarray) -> bool:
        return all(float(code).is_integer() and int(code) in TYPICAL_MISSING_CODES for code in side)

    # the side made of missing-data codes is the stray one, whatever its size; else the smaller
    if typical(low) != typical(high):
        stray, main, stray_count = (low, high, low_count) if typical(low) else (high, low, high_count)
    elif (high_count, -high.size) <= (low_count, -low.size):
        stray, main, stray_count = high, low, high_count
    else:
        stray, main, stray_count = low, high, low_count
    span = main[-1] - main[0] + 1
    if gap < 0.5 * span:
        return None
    if typical(stray) or stray_count <= _STRAY_SHARE * counts.sum():
        return stray, main
    return None


def _declare_hint(stray: Sequence[float]) -> str:
    listed = ", ".join(_fmt(c) for c in stray)
    return (f"if {'it means' if len(stray) == 1 else 'they mean'} \"no answer\", declare "
            f"missing_codes=[{listed}] (command line: --missing-codes {','.join(_fmt(c) for c in stray)}); "
            "if a typo, correct the cell")


def category_problems(values: np.ndarray, items: Sequence[str], columns: Sequence[int], inferred: np.ndarray,
                      minimum: np.ndarray, maximum: np.ndarray, max_categories: int,
                      gaps: bool = True) -> list[CategoryProblem]:
    """Items whose inferred category range is wider than ``max_categories`` or has stray codes.

    Only items flagged in ``inferred`` (no declared categories) are checked. Codes are counted
    with one ``bincount`` per block of rows over the items' ranges, which are at most
    ``max_categories`` wide by then, so a huge code (``1e300``) never sizes an allocation.
    """
    problems: list[CategoryProblem] = []
    wide = [j for j in np.flatnonzero(inferred)
            if np.isfinite(minimum[j]) and maximum[j] - minimum[j] + 1 > max_categories]
    for j in wide:
        column = values[:, j]
        distinct, counts = np.unique(column[~np.isnan(column)], return_counts=True)
        stray = _stray_codes(distinct, counts) if distinct.size <= 10_000 else None
        item = f"item '{items[j]}' (column {columns[j]})"
        if stray is not None:
            codes, main = stray
            shown = ", ".join(_fmt(c) for c in codes[:5]) + (" ..." if codes.size > 5 else "")
            problems.append(CategoryProblem(items[j], (
                f"{item}: value(s) {shown} lie far from the other codes {_fmt(main[0])}-{_fmt(main[-1])}; "
                + _declare_hint(codes[:5]))))
        else:
            problems.append(CategoryProblem(items[j], (
                f"{item}: codes range from {_fmt(minimum[j])} to {_fmt(maximum[j])}, "
                f"{_fmt(maximum[j] - minimum[j] + 1)} categories, more than max_categories={max_categories}; "
                "for a slider or a wide rating scale raise max_categories (command line: --max-categories); "
                "if the column is not an item, exclude it (exclude=[...], --exclude)")))
    if not gaps:
        return problems
    # an item whose every answer is a negative missing-data code (-9, -99, ...) has no gap to
    # show it, but reading it as one real category would make "no answer" a response
    for j in np.flatnonzero(inferred & np.isfinite(minimum) & (maximum < 0)):
        column = values[:, j]
        distinct = np.unique(column[~np.isnan(column)])
        if distinct.size and all(float(c).is_integer() and int(c) in TYPICAL_MISSING_CODES for c in distinct):
            problems.append(CategoryProblem(items[j], (
                f"item '{items[j]}' (column {columns[j]}): every answer is {', '.join(_fmt(c) for c in distinct[:5])}, "
                "a common missing-data code; " + _declare_hint(distinct[:5]))))
    narrow = np.array([j for j in np.flatnonzero(inferred)
                       if np.isfinite(minimum[j]) and j not in set(wide) and maximum[j] > minimum[j]], dtype=np.int64)
    if narrow.size:
        width = (maximum[narrow] - minimum[narrow] + 1).astype(np.int64)
        offsets = np.concatenate(([0], np.cumsum(width)[:-1]))
        total = np.zeros(int(width.sum()), dtype=np.int64)
        for k, j in enumerate(narrow):
            # one column at a time (contiguous in pandas' column-major blocks): missing cells go
            # to an extra first bin, codes to 1..width
            column = values[:, j]
            shifted = np.nan_to_num(column - (minimum[j] - 1.0), nan=0.0).astype(np.intp)
            total[offsets[k]:offsets[k] + width[k]] = np.bincount(shifted, minlength=width[k] + 1)[1:width[k] + 1]
        for k, j in enumerate(narrow):
            counts = total[offsets[k]:offsets[k] + width[k]]
            codes = np.flatnonzero(counts) + int(minimum[j])
            stray = _stray_codes(codes.astype(np.float64), counts[counts > 0])
            if stray is None:
                continue
            bad, main = stray
            problems.append(CategoryProblem(items[j], (
                f"item '{items[j]}' (column {columns[j]}): value(s) {', '.join(_fmt(c) for c in bad[:5])} "
                f"lie beyond a gap of unused codes from the others ({_ranges([int(c) for c in main])}); "
                + _declare_hint(bad[:5]))))
    return problems


def missing_code_hint(value: Any) -> str:
    """A hint appended to "outside categories" messages when the value is a typical missing code."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    if number.is_integer() and int(number) in TYPICAL_MISSING_CODES:
        code = _fmt(number)
        return (f" ({code} is a common missing-data code: declare it with missing_codes=[{code}], "
                f"command line --missing-codes {code})")
    return ""
