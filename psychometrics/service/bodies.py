"""Request bodies parsed straight from the raw bytes, and JSON replies encoded in one call.

FastAPI would decode a body with ``json.loads`` and then validate the Python objects; for a
scoring call of 1,000 respondents that costs more than scoring them. Here pydantic validates
the bytes in one pass (``model_validate_json``), and a failure is the same 422 the rest of the
API gives (``loc`` starting with ``"body"``, ``msg``, ``type``). The schema still appears in
``/openapi.json`` through :func:`json_body`.
"""

from __future__ import annotations

from array import array
from itertools import chain
from operator import itemgetter, methodcaller
from typing import Any, NamedTuple, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

__all__ = ["parse_body", "read_score_body", "ScoreBody", "json_body", "json_reply", "RAW_BODY_MODELS"]

Model = TypeVar("Model", bound=BaseModel)

#: Models read by :func:`parse_body`; ``create_app`` adds their schemas to ``/openapi.json``.
RAW_BODY_MODELS: list[type[BaseModel]] = []


async def parse_body(request: Request, model: type[Model]) -> Model:
    """The request's body validated as ``model``; 422 as FastAPI's own validation gives it."""
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{"loc": ("body", *error["loc"]), "msg": error["msg"], "type": error["type"]}
                                      for error in exc.errors(include_url=False, include_input=False)]) from None


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads ``model`` with :func:`parse_body`."""
    if model not in RAW_BODY_MODELS:
        RAW_BODY_MODELS.append(model)
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def json_reply(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded by orjson (plain JSON values only: no NaN, which it would write as null)."""
    import orjson

    body = content if isinstance(content, bytes) else orjson.dumps(content)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


#: Answer codes the fast reading of a score body accepts as they are (the schema's bounds).
_CODE_LOW, _CODE_HIGH = -1_000_000, 1_000_000
_METHODS = frozenset({"eap", "map", "ml", "wle"})
_ENTRY_KEYS = frozenset({"respondent", "answers"})
_TOP_KEYS = frozenset({"method", "responses"})
_INT_OR_NONE = frozenset({int, type(None)})
_INT = {int}


class ScoreBody(NamedTuple):
    """A score request read by :func:`read_score_body`."""

    method: str
    respondents: list[str]
    answers: list[dict[str, Any]]
    #: ``(items, codes)`` when every respondent answered the same items (in any order):
    #: the respondents x items float matrix of the codes, columns in ``items`` order
    #: (NaN: null); else None.
    uniform: tuple[tuple[str, ...], Any] | None


def read_score_body(raw: bytes) -> ScoreBody | None:
    """A ``ScoreRequest`` body of the usual kind read without building its models, or None when
    anything about it is not plainly valid.

    Only bodies that :class:`~psychometrics.service.schemas.ScoreRequest` accepts as they are
    pass: an object with ``responses`` (a non-empty list) and maybe ``method`` (a string, any
    case); each entry exactly ``respondent`` (1-200 characters) and ``answers`` (at most 10,000
    items named by 1-200 characters, each code an integer within +-1,000,000 or null). The
    checks run over all entries at once (sets and ``map``, no Python loop per respondent), on
    orjson's parse, which shares the strings of repeated keys. None sends the body to
    :func:`parse_body`, so anything else (option labels, errors) gets the model's exact answer.
    """
    import numpy as np
    import orjson

    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(document) is not dict or "responses" not in document or not _TOP_KEYS.issuperset(document):
        return None
    method = document.get("method", "eap")
    if type(method) is not str or method.lower() not in _METHODS:
        return None
    responses = document["responses"]
    if type(responses) is not list or not responses or not {dict}.issuperset(map(type, responses)):
        return None
    if {_ENTRY_KEYS} != set(map(frozenset, responses)):
        return None
    names = list(map(_RESPONDENT, responses))
    answers = list(map(_ANSWERS, responses))
    if not {str}.issuperset(map(type, names)) or not {dict}.issuperset(map(type, answers)):
        return None
    if not 1 <= min(map(len, names)) or max(map(len, names)) > 200 or max(map(len, answers)) > 10_000:
        return None
    keys, codes = _uniform_codes(answers)
    if keys is None:
        keys = set(chain.from_iterable(answers))
        codes = list(chain.from_iterable(map(_VALUES, answers)))
    if keys and (min(map(len, keys)) < 1 or max(map(len, keys)) > 200):
        return None
    kinds = set(map(type, codes))
    if kinds == _INT:
        # integers only (no null): read as int64 at C speed; one beyond int64 is refused
        try:
            flat = np.frombuffer(array("q", codes), dtype=np.int64)
        except OverflowError:
            return None
    elif _INT_OR_NONE.issuperset(kinds):
        # null -> NaN; every int here is within int64 (orjson reads no larger one)
        flat = np.fromiter(codes, dtype=np.float64, count=len(codes))
    else:
        return None
    numbers = flat[~np.isnan(flat)] if flat.dtype.kind == "f" else flat
    if numbers.size and (numbers.min() < _CODE_LOW or numbers.max() > _CODE_HIGH):
        return None
    uniform = None
    if type(keys) is tuple:
        uniform = (keys, flat.astype(np.float64, copy=False).reshape(len(answers), len(keys)))
    return ScoreBody(method.lower(), names, answers, uniform)


def _uniform_codes(answers: list[dict[str, Any]]) -> tuple[tuple[str, ...] | None, list[Any]]:
    """``(items, codes)`` when every respondent answered the same items (the usual batch):
    the first respondent's items, and everyone's codes in that order, row after row; else
    ``(None, [])``. Same sizes and every item found in every answer mean the same items."""
    keys = tuple(answers[0])
    if len(set(map(len, answers))) != 1:
        return None, []
    if len(keys) < 2:  # itemgetter of one key gives the value itself, not a tuple
        if len(set(map(tuple, answers))) != 1:
            return None, []
        return keys, list(chain.from_iterable(map(_VALUES, answers)))
    try:
        return keys, list(chain.from_iterable(map(itemgetter(*keys), answers)))
    except KeyError:
        return None, []


_RESPONDENT = itemgetter("respondent")
_ANSWERS = itemgetter("answers")
_VALUES = methodcaller("values")
