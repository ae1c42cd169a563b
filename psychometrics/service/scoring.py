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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.bank import ItemBank

__all__ = ["AnswerError", "ScaleScore", "check_answers", "score_answers", "METHODS"]

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


def _codes(codes: Sequence[int]) -> str:
    codes = list(codes)
    if codes and codes == list(range(codes[0], codes[-1] + 1)) and len(codes) > 2:
        return f"{codes[0]}-{codes[-1]}"
    return ", ".join(str(c) for c in codes)


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
    from psychometrics import irt
    from psychometrics.data import load_responses
    from psychometrics.norms import norm_scores

    textual = check_answers(bank, respondents, keyed=instrument is not None, loc=loc, indexed=indexed)
    items = bank_items(bank)
    ids = pd.Index([respondent for respondent, _ in respondents], name="respondent")
    if not textual:
        # numbers only (the usual case): a float matrix, as a response file is read
        values = np.full((len(respondents), len(items)), np.nan)
        column = {item: j for j, item in enumerate(items)}
        # every item is known (checked above); None becomes NaN in a float array
        rows = np.repeat(np.arange(len(respondents)), [len(answers) for _, answers in respondents])
        columns = [column[item] for _, answers in respondents for item in answers]
        values[rows, columns] = np.array([code for _, answers in respondents for code in answers.values()],
                                         dtype=np.float64)
        frame = pd.DataFrame(values, index=ids, columns=items)
    else:
        # option labels of an instrument (multiple choice, situational judgement) stay text
        frame = pd.DataFrame([{item: answers.get(item) for item in items} for _, answers in respondents],
                             index=ids, columns=items).astype(object).where(lambda f: f.notna(), np.nan)
    try:
        if instrument is None:
            prepared = load_responses(frame, items=items, warn=False)
        else:
            prepared = instrument.prepare(frame, warn=False)
        per_scale = _score_prepared(bank, prepared, method)
        if per_scale is None:
            # a code the plan does not know: the library's own path names it in its error
            per_scale = {scale: irt.score(calibration, prepared.subset(list(calibration.item_ids)), method=method)
                         for scale, calibration in bank.scales.items()}
    except ValueError as exc:  # ResponseError and the library's other checks of its input
        raise AnswerError([{"loc": ["body"], "respondent": None, "item": None, "msg": str(exc)}]) from None
    # T and percentile of all scales in one call: the conversion is elementwise
    theta = np.concatenate([np.asarray(scores["theta"], dtype=np.float64) for scores in per_scale.values()])
    converted = norm_scores(theta, mean=0.0, sd=1.0)
    t_scores = _finite_list(converted["t"].to_numpy(dtype=np.float64))
    percentiles = _finite_list(converted["percentile"].to_numpy(dtype=np.float64))
    out: list[dict[str, ScaleScore]] = [{} for _ in respondents]
    position = 0
    for scale, scores in per_scale.items():
        n = len(respondents)
        columns = zip(_finite_list(np.asarray(scores["theta"])), _finite_list(np.asarray(scores["se"])),
                      t_scores[position:position + n], percentiles[position:position + n],
                      np.asarray(scores["n_answered"]).tolist(), np.asarray(scores["flag"]).tolist())
        for person, (t, se, t_score, pct, answered, flag) in zip(out, columns):
            person[scale] = {"theta": t, "se": se, "T": t_score, "percentile": pct, "n_answered": answered,
                             "flags": [flag] if flag else []}
        position += n
    return out


class _BankPlan:
    """Per bank, computed once (banks are immutable): each scale's :class:`ScoringPlan` (the
    EAP grid and log-probability table ``irt.score`` would compute on every call) and its items'
    codes, so that a request needs neither a DataFrame per scale nor ``irt.score``'s set-up."""

    def __init__(self, bank: ItemBank) -> None:
        from psychometrics.scoring import scoring_plan

        self.bank = bank  # held, so that id(bank) is not reused while cached
        self.scales: dict[str, tuple[Any, list[str], np.ndarray]] = {}
        for scale, calibration in bank.scales.items():
            plan = scoring_plan(calibration)
            items = list(plan.item_ids)
            width = max(len(calibration.categories[item]) for item in items)
            codes = np.full((len(items), width), np.nan)
            for j, item in enumerate(items):
                codes[j, :len(calibration.categories[item])] = np.asarray(calibration.categories[item],
                                                                          dtype=np.float64)
            self.scales[scale] = (plan, items, codes)


_PLANS: dict[int, _BankPlan] = {}
_MAX_PLANS = 256


def bank_plan(bank: ItemBank) -> _BankPlan | None:
    """The cached plan of ``bank``; None for a bank the fast path does not cover
    (multidimensional scales), which is then scored by ``irt.score`` scale by scale."""
    plan = _PLANS.get(id(bank))
    if plan is not None and plan.bank is bank:
        return plan
    if any(getattr(c, "is_multidimensional", False) for c in bank.scales.values()):
        return None
    plan = _BankPlan(bank)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.pop(next(iter(_PLANS)))
    _PLANS[id(bank)] = plan
    return plan


def _score_prepared(bank: ItemBank, prepared: Any, method: str) -> dict[str, dict[str, np.ndarray]] | None:
    """Each scale scored by :func:`psychometrics.scoring.score_codes` with the bank's cached plan:
    the codes are matched to the categories exactly as ``calibration.encode`` matches them (float
    equality, position in the item's codes). None when a code is not one of its item's categories
    or the bank is not covered, so that the caller takes the library's path and its error message."""
    from psychometrics.scoring import score_codes

    plan = bank_plan(bank)
    if plan is None:
        return None
    values = prepared.values
    if values.dtype == object:
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            return None
    values = np.asarray(values, dtype=np.float64)
    column = {item: j for j, item in enumerate(prepared.item_ids)}
    out: dict[str, dict[str, np.ndarray]] = {}
    for scale, (scale_plan, items, categories) in plan.scales.items():
        matrix = np.full((values.shape[0], len(items)), np.nan)
        present = [(k, column[item]) for k, item in enumerate(items) if item in column]
        if present:
            into, source = (list(t) for t in zip(*present))
            matrix[:, into] = values[:, source]
        hits = matrix[:, :, None] == categories[None, :, :]
        answered = ~np.isnan(matrix)
        if not np.array_equal(hits.any(axis=2), answered):
            return None
        codes = np.where(answered, hits.argmax(axis=2), -1).astype(np.int8 if categories.shape[1] < 127 else np.int32)
        out[scale] = score_codes(scale_plan, codes, method=method)
    return out
