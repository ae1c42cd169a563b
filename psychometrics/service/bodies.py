"""Request bodies parsed straight from the raw bytes, and JSON replies encoded in one call.

FastAPI would decode a body with ``json.loads`` and then validate the Python objects; for a
scoring call of 1,000 respondents that costs more than scoring them. Here pydantic validates
the bytes in one pass (``model_validate_json``), and a failure is the same 422 the rest of the
API gives (``loc`` starting with ``"body"``, ``msg``, ``type``). The schema still appears in
``/openapi.json`` through :func:`json_body`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

__all__ = ["parse_body", "json_body", "json_reply", "RAW_BODY_MODELS"]

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
