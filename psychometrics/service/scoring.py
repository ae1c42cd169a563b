"""Scoring requests with a stored item bank, through the library's own verbs.

Nothing statistical happens here: the answers become the same response matrix the command
``psychometrics score`` builds from a file (persons as rows, the bank's items as columns, NaN
for no answer; :func:`psychometrics.data.load_responses`, or the instrument's ``prepare`` for a
bank calibrated on keyed responses), each scale is scored by :func:`psychometrics.irt.score`,
and T-scores and percentiles come from :func:`psychometrics.norms.norm_scores` with mean 0 and
SD 1 (T = 50 + 10 theta, percentile = 100 Phi(theta), theta read on the calibration's latent
scale), exactly the columns of ``psychometrics score``.

What *is* checked here is the request: every answered item must be an item of the bank and every
code one of the item's categories, and a mistake is reported with the respondent and the item
(as a list, so a client can fix all of them at once).
"""

from __future__ import annotations

import math
from itertools import chain, repeat
from operator import methodcaller

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.bank import ItemBank

__all__ = ["AnswerError", "ScaleScore", "ScoreTable", "check_answers", "score_answers", "score_table", "METHODS"]

METHODS = ("eap", "map", "ml", "wle")
#: At most this many problems are listed in one 422 answer.
MAX_LISTED = 20


class AnswerError(ValueError):
    """Answers that cannot be scored; ``problems`` lists ``{"respondent", "item", "msg", "loc"}``."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(problems[0]["msg"] if problems else "invalid answers")
        self.problems = problems


#: One respondent's score on one scale, JSON-ready: ``theta``, ``se``, ``T``, ``percentile``
#: (null where ``irt.score`` gives no estimate: no answers, ML/WLE without a solution; the strings
#: ``"inf"`` / ``"-inf"`` for ML's infinite estimates of all-lowest/all-highest patterns, exactly
#: as ``psychometrics score --json`` writes them), ``n_answered``, ``flags``.
ScaleScore = dict[str, Any]

JsonNumber = float | str | None


def json_number(value: float | None) -> JsonNumber:
    """One number as the CLI's JSON writes it: NaN -> None, +-inf -> ``"inf"``/``"-inf"``."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def stored_number(value: JsonNumber) -> float | None:
    """The inverse of :func:`json_number`, for the store's double-precision columns."""
    if isinstance(value, str):
        return math.inf if value == "inf" else -math.inf
    return value


def _finite_list(values: np.ndarray) -> list[JsonNumber]:
    """Plain floats; None for NaN and ``"inf"``/``"-inf"`` for infinities (JSON has neither)."""
    values = np.asarray(values, dtype=np.float64)
    out: list[JsonNumber] = values.tolist()
    if not np.isfinite(values).all():
        for position in np.flatnonzero(~np.isfinite(values)).tolist():
            out[position] = json_number(float(values[position]))
    return out


def bank_items(bank: ItemBank) -> list[str]:
    """The bank's items in scale order, each once."""
    return list(dict.fromkeys(item for calibration in bank.scales.values() for item in calibration.item_ids))


def check_answers(bank: ItemBank, respondents: Sequence[tuple[str, Mapping[str, Any]]], *,
                  keyed: bool, loc: Sequence[Any] = ("body", "responses"), indexed: bool = True) -> bool:
    """Refuse unknown items and (for a bank scored on raw codes) codes outside an item's categories.

    ``keyed`` banks (calibrated through an instrument) get their codes checked by the
    instrument itself when the answers are prepared.

    Returns
    -------
    bool
        Whether any code is text (an option label of an instrument).

    Raises
    ------
    AnswerError
        Listing up to :data:`MAX_LISTED` problems, each naming respondent and item.
    """
    categories = _categories(bank)
    if _all_good(categories, respondents, keyed):
        return False
    problems: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    textual = False
    for row, (respondent, answers) in enumerate(respondents):
        if respondent in seen:
            where = [*loc, row] if indexed else list(loc)
            problems.append({"loc": [*where, "respondent"], "respondent": respondent, "item": None,
                             "msg": f"respondent '{respondent}' appears twice (entries {seen[respondent]} "
                                    f"and {row}); send each respondent once"})
        seen.setdefault(respondent, row)
        for item, code in answers.items():
            allowed = categories.get(item)
            if allowed is None:
                where = [*loc, row] if indexed else list(loc)
                problems.append({"loc": [*where, "answers", item], "respondent": respondent, "item": item,
                                 "msg": f"respondent '{respondent}', item '{item}': the item is not in the "
                                        "bank"})
            elif isinstance(code, str):
                textual = True
                if not keyed:
                    where = [*loc, row] if indexed else list(loc)
                    problems.append({"loc": [*where, "answers", item], "respondent": respondent, "item": item,
                                     "msg": f"respondent '{respondent}', item '{item}': code {code!r} is outside "
                                            f"the item's categories {_codes(sorted(allowed))}"})
            elif code is not None and not keyed and code not in allowed:
                where = [*loc, row] if indexed else list(loc)
                problems.append({"loc": [*where, "answers", item], "respondent": respondent, "item": item,
                                 "msg": f"respondent '{respondent}', item '{item}': code {code!r} is outside "
                                        f"the item's categories {_codes(sorted(allowed))}"})
            if len(problems) >= MAX_LISTED:
                raise AnswerError(problems)
    if problems:
        raise AnswerError(problems)
    return textual


def _categories(bank: ItemBank) -> dict[str, frozenset[int]]:
    categories: dict[str, frozenset[int]] = {}
    for calibration in bank.scales.values():
        categories.update({item: frozenset(codes) for item, codes in calibration.categories.items()})
    return categories


def _all_good(categories: dict[str, frozenset[int]], respondents: Sequence[tuple[str, Mapping[str, Any]]],
              keyed: bool) -> bool:
    """The usual request in set operations: distinct respondents, known items, numeric codes
    (in the item's categories unless ``keyed``). False sends the request through the loop of
    :func:`check_answers` that names every problem (or finds option labels)."""
    known = categories.keys()
    if len({respondent for respondent, _ in respondents}) != len(respondents):
        return False
    for _, answers in respondents:
        if not known >= answers.keys() or not _NUMERIC.issuperset(map(type, answers.values())):
            return False
        if not keyed and not all(code is None or code in categories[item] for item, code in answers.items()):
            return False
    return True


_NUMERIC = frozenset({int, float, bool, type(None)})
_values = methodcaller("values")


def _codes(codes: Sequence[int]) -> str:
    codes = list(codes)
    if codes and codes == list(range(codes[0], codes[-1] + 1)) and len(codes) > 2:
        return f"{codes[0]}-{codes[-1]}"
    return ", ".join(str(c) for c in codes)


class ScoreTable:
    """Scores of many respondents, column by column (what one scoring call computes).

    ``scales[name]`` holds ``theta``, ``se``, ``T``, ``percentile`` (float arrays, NaN where
    there is no estimate, +-inf for ML's infinite estimates), ``n_answered`` (int array) and
    ``flag`` (array of str, ``""`` for none), respondents in the order given.
    """

    def __init__(self, respondents: list[str], scales: dict[str, dict[str, np.ndarray]]) -> None:
        self.respondents = respondents
        self.scales = scales

    def rows(self) -> list[dict[str, ScaleScore]]:
        """Per respondent: scale -> :data:`ScaleScore` (JSON-ready)."""
        # built by map/zip (C loops) rather than a Python loop per respondent and scale
        per_scale = []
        for columns in self.scales.values():
            flags = [[flag] if flag else [] for flag in columns["flag"].tolist()] \
                if columns["flag"].astype(bool).any() else [[] for _ in self.respondents]
            per_scale.append(list(map(dict, map(zip, repeat(_FIELDS), zip(
                _finite_list(columns["theta"]), _finite_list(columns["se"]), _finite_list(columns["T"]),
                _finite_list(columns["percentile"]), columns["n_answered"].tolist(), flags)))))
        return list(map(dict, map(zip, repeat(tuple(self.scales)), zip(*per_scale))))

    def json_rows(self, before: bytes = b"", after: bytes = b"") -> bytes:
        """``[{"respondent": ..., "scales": {...}}, ...]`` as JSON bytes, the same bytes as
        ``orjson.dumps`` of :meth:`rows` with the respondents, built column by column, between
        ``before`` and ``after`` (the rest of a reply: written in the same single copy).

        Each column is encoded once by orjson (a float column straight from its array when it
        is all finite: orjson writes a float64 the same way from numpy as from Python) and cut
        into its values; one byte template per respondent, holding every scale, takes the
        name and all the values in one ``%`` (``map``: no Python loop over respondents).
        """
        import orjson

        if len(self.respondents) <= 20:
            return before + orjson.dumps([{"respondent": respondent, "scales": person}
                                          for respondent, person in zip(self.respondents, self.rows())]) + after
        template = [b',{"respondent":%b,"scales":{']
        values: list[list[bytes]] = []
        for k, (scale, columns) in enumerate(self.scales.items()):
            # the scale's name is part of the template: its '%' doubled, so it stays text
            template.append((b"," if k else b"") + orjson.dumps(scale).replace(b"%", b"%%") + _SCALE_TEMPLATE)
            values.extend(_encoded_numbers(columns[field]) for field in ("theta", "se", "T", "percentile"))
            values.append(_encoded_values(np.ascontiguousarray(columns["n_answered"], dtype=np.int64)))
            flags = columns["flag"].tolist()
            encoded = {flag: orjson.dumps([flag] if flag else []) for flag in set(flags)}
            values.append(list(map(encoded.__getitem__, flags)))
        template.append(b"}}")
        names = map(orjson.dumps, self.respondents)
        # each respondent's text starts with a comma; the first one's is the list's bracket
        people = list(map(b"".join(template).__mod__, zip(names, *values)))
        people[0] = before + b"[" + people[0][1:]
        people.append(b"]" + after)
        return b"".join(people)


_SCALE_TEMPLATE = b':{"theta":%b,"se":%b,"T":%b,"percentile":%b,"n_answered":%b,"flags":%b}'


def _encoded_numbers(values: np.ndarray) -> list[bytes]:
    """The JSON text of each float of a column: as :func:`_finite_list` writes them (null for
    NaN, "inf"/"-inf"), encoded from the array itself when every value is finite."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if np.isfinite(values).all():
        return _encoded_values(values)
    return _encoded_values(_finite_list(values))


def _encoded_values(values: Any) -> list[bytes]:
    """Each value's JSON text, from one encoding of the list or 1-d array (numbers, null and
    the strings "inf"/"-inf" contain no comma)."""
    import orjson

    return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")


_FIELDS = ("theta", "se", "T", "percentile", "n_answered", "flags")


def score_answers(bank: ItemBank, respondents: Sequence[tuple[str, Mapping[str, Any]]], *,
                  method: str = "eap", instrument: Any = None, loc: Sequence[Any] = ("body", "responses"),
                  indexed: bool = True) -> list[dict[str, ScaleScore]]:
    """Score each respondent on every scale of ``bank``, as ``psychometrics score`` would.

    Parameters
    ----------
    bank : ItemBank
        The stored bank.
    respondents : sequence of (respondent id, {item: code or None})
        Any subset of the bank's items per respondent; None or an absent item is no answer.
    method : {"eap", "map", "ml", "wle"}
        Passed to :func:`psychometrics.irt.score`.
    instrument : Instrument, optional
        The instrument of a bank calibrated on keyed responses (reverse keying, option scoring).

    Returns
    -------
    list of dict
        Per respondent, in the order given: scale -> :data:`ScaleScore` (JSON-ready).

    Raises
    ------
    AnswerError
        For unknown items, codes outside an item's categories, duplicate respondents.
    """
    return score_table(bank, respondents, method=method, instrument=instrument, loc=loc, indexed=indexed).rows()


def score_table(bank: ItemBank, respondents: Sequence[tuple[str, Mapping[str, Any]]], *,
                method: str = "eap", instrument: Any = None, loc: Sequence[Any] = ("body", "responses"),
                indexed: bool = True, uniform: tuple[Sequence[str], np.ndarray] | None = None) -> ScoreTable:
    """:func:`score_answers` as columns (one array per scale and field); see :class:`ScoreTable`.

    The usual request (numeric codes of the bank's items) goes through the bank's cached
    :class:`_BankPlan`: one answer matrix, codes to category indices by a lookup table
    (built from the instrument's own ``prepare``, so reverse keying and missing codes are the
    library's), then :func:`psychometrics.scoring.score_codes` per scale on all respondents
    at once. Anything else (option labels, a code the table does not know, a multidimensional
    scale) takes the library's path, :func:`psychometrics.irt.score` per scale, whose errors
    name the problem. ``uniform`` (``(items, codes)``: every respondent answered ``items``,
    ``codes`` their float matrix with columns in that order, NaN for no answer, every code an
    integer or NaN)
    spares building the matrix again from ``respondents``, which must hold the same answers.
    """
    names = [respondent for respondent, _ in respondents]
    answers = [answers for _, answers in respondents]
    per_scale = None
    plan = bank_plan(bank, instrument)
    if plan is not None and uniform is not None:
        # the body's reader already checked the codes' types and made their matrix
        order, codes = uniform
        if len(set(names)) == len(names) and plan.known.issuperset(order):
            values = np.full((len(names), len(plan.items)), np.nan)
            values[:, [plan.column[item] for item in order]] = codes
            per_scale = _score_matrix(plan, values, method)
    elif plan is not None and _plain(plan, names, answers):
        values = _answer_matrix(plan.items, plan.column, answers)
        per_scale = _score_matrix(plan, values, method)
    if per_scale is None:
        # the checks that name every problem; then the library's own path
        textual = check_answers(bank, respondents, keyed=instrument is not None, loc=loc, indexed=indexed)
        per_scale = _score_library(bank, respondents, names, method, instrument, textual)
    # T and percentile of all scales in one conversion: it is elementwise (T = 50 + 10 theta,
    # percentile = 100 Phi(theta); norms.norm_scores with mean 0 and SD 1, without its frame)
    from psychometrics.norms import _convert

    theta = np.concatenate([np.asarray(scores["theta"], dtype=np.float64) for scores in per_scale.values()])
    converted = _convert(theta, 0.0, 1.0, None)
    n = len(names)
    scales: dict[str, dict[str, np.ndarray]] = {}
    for k, (scale, scores) in enumerate(per_scale.items()):
        part = slice(k * n, (k + 1) * n)
        scales[scale] = {"theta": np.asarray(scores["theta"], dtype=np.float64),
                         "se": np.asarray(scores["se"], dtype=np.float64),
                         "T": converted[part, 1], "percentile": converted[part, 2],
                         "n_answered": np.asarray(scores["n_answered"]), "flag": np.asarray(scores["flag"])}
    return ScoreTable(names, scales)


def _plain(plan: "_BankPlan", names: list[str], answers: list[Mapping[str, Any]]) -> bool:
    """The usual request, checked in set operations over all answers at once: distinct
    respondents, known items, numbers or None only. (Codes outside the categories are found by
    the plan's table.) False sends the request to :func:`check_answers`, which names problems."""
    if len(set(names)) != len(names):
        return False
    if not plan.known.issuperset(chain.from_iterable(answers)):
        return False
    return _NUMERIC.issuperset(map(type, chain.from_iterable(map(_values, answers))))


def _answer_matrix(items: list[str], column: dict[str, int], answers: list[Mapping[str, Any]]) -> np.ndarray:
    """Respondents x items float matrix of the codes (NaN: no answer), every item known."""
    n = len(answers)
    values = np.full((n, len(items)), np.nan)
    if not n:
        return values
    # None becomes NaN in a float array; map and chain iterate in C, not a Python loop per respondent
    flat = np.array(list(chain.from_iterable(map(_values, answers))), dtype=np.float64)
    first = list(answers[0])
    lengths = list(map(len, answers))
    if lengths.count(len(first)) == n and all(map(first.__eq__, map(list, answers))):
        # every respondent answered the same items in the same order (the usual batch)
        values[:, [column[item] for item in first]] = flat.reshape(n, len(first))
        return values
    rows = np.repeat(np.arange(n), lengths)
    columns = np.fromiter(map(column.__getitem__, chain.from_iterable(answers)), dtype=np.intp, count=rows.size)
    values[rows, columns] = flat
    return values


def _score_library(bank: ItemBank, respondents: Sequence[tuple[str, Mapping[str, Any]]], names: list[str],
                   method: str, instrument: Any, textual: bool) -> dict[str, Any]:
    """The library's own path: a response frame as ``psychometrics score`` reads one, prepared
    (keyed) by the instrument or checked by ``load_responses``, ``irt.score`` per scale."""
    from psychometrics import irt
    from psychometrics.data import load_responses

    items = bank_items(bank)
    ids = pd.Index(names, name="respondent")
    if not textual:
        frame = pd.DataFrame(_answer_matrix(items, {item: j for j, item in enumerate(items)},
                                            [answers for _, answers in respondents]), index=ids, columns=items)
    else:
        # option labels of an instrument (multiple choice, situational judgement) stay text
        frame = pd.DataFrame([{item: answers.get(item) for item in items} for _, answers in respondents],
                             index=ids, columns=items).astype(object).where(lambda f: f.notna(), np.nan)
    try:
        if instrument is None:
            prepared = load_responses(frame, items=items, warn=False)
        else:
            prepared = instrument.prepare(frame, warn=False)
        return {scale: irt.score(calibration, prepared.subset(list(calibration.item_ids)), method=method)
                for scale, calibration in bank.scales.items()}
    except ValueError as exc:  # ResponseError and the library's other checks of its input
        raise AnswerError([{"loc": ["body"], "respondent": None, "item": None, "msg": str(exc)}]) from None


#: Category-table entries: no answer, and a raw code the table does not know.
_MISSING, _UNKNOWN = -1, -2


class _BankPlan:
    """Per bank (and instrument), computed once (banks are immutable): each scale's
    :class:`ScoringPlan` (the EAP grid and log-probability table ``irt.score`` would compute
    on every call) and a lookup table raw code -> category index for every item.

    The table is what the library does to one answer: for a bank keyed by an instrument it
    comes from ``instrument.prepare`` run once on every code of every item (the item's
    categories and the instrument's missing codes), so reverse keying and missing codes are
    the instrument's own; without an instrument a code's index is its position in the item's
    categories (as ``calibration.encode`` matches them). Keying is elementwise, so applying
    the table to a request equals preparing the request.
    """

    def __init__(self, bank: ItemBank, instrument: Any = None) -> None:
        from psychometrics.scoring import scoring_plan

        self.bank, self.instrument = bank, instrument  # held, so that their ids are not reused while cached
        self.items = bank_items(bank)
        self.known = frozenset(self.items)
        self.scales: dict[str, tuple[Any, np.ndarray]] = {}
        self.column = column = {item: j for j, item in enumerate(self.items)}
        for scale, calibration in bank.scales.items():
            plan = scoring_plan(calibration)
            self.scales[scale] = (plan, np.array([column[item] for item in plan.item_ids], dtype=np.intp))
        self.pooled = self._pooled(bank)
        categories = _categories_in_order(bank)
        candidates = {item: [float(code) for code in codes] for item, codes in categories.items()}
        if instrument is not None:
            extra = [float(code) for code in instrument.missing_codes
                     if isinstance(code, (int, float)) and not isinstance(code, bool) and math.isfinite(code)]
            candidates = {item: codes + [c for c in extra if c not in codes] for item, codes in candidates.items()}
        every = [code for codes in candidates.values() for code in codes]
        self.low = int(math.floor(min(every)))
        span = int(math.ceil(max(every))) - self.low + 1
        if span > 10_000 or any(not code.is_integer() for code in every):
            self.table = None  # unusual codes: every request takes the library's path
            return
        table = np.full((len(self.items), span), _UNKNOWN, dtype=np.int16)
        keyed = self._keyed(candidates, instrument)
        if keyed is None:
            self.table = None
            return
        for item, (raw, values) in keyed.items():
            j = column[item]
            position = {float(code): k for k, code in enumerate(categories[item])}
            for code, value in zip(raw, values):
                index = _MISSING if math.isnan(value) else position.get(float(value), _UNKNOWN)
                table[j, int(code) - self.low] = index
        self.table = table

    def _pooled(self, bank: ItemBank) -> tuple[Any, dict[str, np.ndarray]] | None:
        """One plan over every item of the bank, when its scales share the latent scale and the
        EAP grid (then scoring a few respondents is one ``score_codes`` call: each scale's answers
        in their own rows, its items in the same order, so every sum is the per-scale sum), and
        each scale's columns in it."""
        from psychometrics.cat._options import pool_calibration  # one calibration of all items
        from psychometrics.scoring import scoring_plan

        if len(self.scales) < 2:
            return None
        try:
            pooled = scoring_plan(pool_calibration(bank)[0])
        except (ValueError, TypeError):
            return None
        position = {item: j for j, item in enumerate(pooled.item_ids)}
        for plan, _ in self.scales.values():
            if not (np.array_equal(plan.nodes, pooled.nodes) and np.array_equal(plan.log_weights, pooled.log_weights)
                    and np.array_equal(plan.table, pooled.table[[position[i] for i in plan.item_ids],
                                                                 :, :plan.table.shape[2]])):
                return None
        return pooled, {scale: np.array([position[i] for i in plan.item_ids], dtype=np.intp)
                        for scale, (plan, _) in self.scales.items()}

    def _keyed(self, candidates: dict[str, list[float]], instrument: Any) -> dict[str, tuple[list, np.ndarray]] | None:
        """Item -> (raw codes, what the library makes of them); None when it refuses one."""
        if instrument is None:
            return {item: (codes, np.asarray(codes)) for item, codes in candidates.items()}
        depth = max(len(codes) for codes in candidates.values())
        values = np.full((depth, len(self.items)), np.nan)
        for j, item in enumerate(self.items):
            values[:len(candidates[item]), j] = candidates[item]
        frame = pd.DataFrame(values, index=pd.Index([f"code{k}" for k in range(depth)], name="respondent"),
                             columns=self.items)
        try:
            prepared = instrument.prepare(frame, warn=False)
        except ValueError:
            return None
        keyed = np.asarray(prepared.values, dtype=np.float64)
        position = {item: j for j, item in enumerate(prepared.item_ids)}
        if set(position) != set(self.items):
            return None
        return {item: (candidates[item], keyed[:len(candidates[item]), position[item]]) for item in self.items}

    def codes(self, values: np.ndarray) -> np.ndarray | None:
        """Category indices (-1: no answer) of a respondents x items matrix of raw codes; None
        when a code is not in the table."""
        if self.table is None:
            return None
        answered = ~np.isnan(values)
        offset = np.where(answered, values, self.low) - self.low
        index = offset.astype(np.intp)
        if ((index != offset) | (index < 0) | (index >= self.table.shape[1])).any():
            return None
        codes = np.where(answered, self.table[np.arange(values.shape[1])[None, :], index], _MISSING)
        if (codes == _UNKNOWN).any():
            return None
        return codes.astype(np.int8 if self.table.shape[1] < 127 else np.int32, copy=False)


def _categories_in_order(bank: ItemBank) -> dict[str, tuple]:
    categories: dict[str, tuple] = {}
    for calibration in bank.scales.values():
        categories.update(calibration.categories)
    return categories


_PLANS: dict[tuple[int, int], _BankPlan] = {}
_MAX_PLANS = 256


def bank_plan(bank: ItemBank, instrument: Any = None) -> _BankPlan | None:
    """The cached plan of ``bank`` (keyed by ``instrument``); None for a bank the fast path does
    not cover (multidimensional scales), which is then scored by ``irt.score`` scale by scale."""
    key = (id(bank), id(instrument))
    plan = _PLANS.get(key)
    if plan is not None and plan.bank is bank and plan.instrument is instrument:
        return plan
    if any(getattr(c, "is_multidimensional", False) for c in bank.scales.values()):
        return None
    plan = _BankPlan(bank, instrument)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.pop(next(iter(_PLANS)))
    _PLANS[key] = plan
    return plan


def _score_matrix(plan: _BankPlan, values: np.ndarray, method: str) -> dict[str, dict[str, np.ndarray]] | None:
    """Each scale scored by :func:`psychometrics.scoring.score_codes` on all respondents at once;
    None when a code is not in the plan's table (the caller takes the library's path and its
    error message)."""
    from psychometrics.scoring import score_codes

    codes = plan.codes(values)
    if codes is None:
        return None
    n = codes.shape[0]
    if plan.pooled is not None and n <= POOLED_ROWS:
        # a few respondents: all scales in one call, scale k's answers in rows k*n..(k+1)*n
        pooled, in_pool = plan.pooled
        stacked = np.full((n * len(plan.scales), len(pooled.item_ids)), _MISSING, dtype=codes.dtype)
        for k, (scale, (_, columns)) in enumerate(plan.scales.items()):
            stacked[k * n:(k + 1) * n, in_pool[scale]] = codes[:, columns]
        scored = score_codes(pooled, stacked, method=method)
        return {scale: {field: values[k * n:(k + 1) * n] for field, values in scored.items()}
                for k, scale in enumerate(plan.scales)}
    return {scale: score_codes(scale_plan, codes[:, columns], method=method)
            for scale, (scale_plan, columns) in plan.scales.items()}


#: Up to this many respondents a bank's scales are scored in one call on its pooled plan.
POOLED_ROWS = 20
