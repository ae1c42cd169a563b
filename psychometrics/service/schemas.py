"""Request and response bodies of the HTTP API (pydantic models, shown in ``/openapi.json``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

__all__ = ["Answers", "RespondentAnswers", "ScoreRequest", "ResponseRequest", "BankOut", "InstrumentOut",
           "ScaleScoreOut", "RespondentScores", "ScoreResult", "ResponseOut", "Page"]

#: A response code: an integer category (or an option label for instruments with lettered
#: options); null means no answer.
Code = Annotated[StrictInt, Field(ge=-1_000_000, le=1_000_000)] | Annotated[StrictStr, Field(max_length=100)] | None
Answers = Annotated[dict[Annotated[str, Field(min_length=1, max_length=200)], Code], Field(max_length=10_000)]
Respondent = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Method = Literal["eap", "map", "ml", "wle"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("method", mode="before", check_fields=False)
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class RespondentAnswers(_Body):
    respondent: Respondent
    answers: Answers


class ScoreRequest(_Body):
    """``POST /v1/banks/{id}/score``: one or more respondents, any subset of the bank's items each."""

    method: Method = "eap"
    responses: list[RespondentAnswers] = Field(min_length=1)


class ResponseRequest(_Body):
    """``POST /v1/responses``: one respondent's answers, scored when a bank is named."""

    respondent: Respondent
    answers: Answers
    bank: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    method: Method = "eap"


class BankOut(BaseModel):
    id: str
    name: str
    version: int
    created: str | None = None
    instrument: dict[str, Any] | None = None
    scales: dict[str, dict[str, Any]] | None = None


class InstrumentOut(BaseModel):
    id: str
    instrument_id: str
    version: str
    created: str | None = None


class ScaleScoreOut(BaseModel):
    """Null theta/se/T/percentile: no estimate (no answers); ``"inf"``/``"-inf"``: ML's infinite
    estimate of an all-lowest/all-highest pattern, as ``psychometrics score --json`` writes it;
    ``flags`` says which."""

    theta: float | Literal["inf", "-inf"] | None
    se: float | Literal["inf", "-inf"] | None
    T: float | Literal["inf", "-inf"] | None
    percentile: float | Literal["inf", "-inf"] | None
    n_answered: int
    flags: list[str]


class RespondentScores(BaseModel):
    respondent: str
    scales: dict[str, ScaleScoreOut]


class ScoreResult(BaseModel):
    bank: BankOut
    method: str
    scores: list[RespondentScores]


class ResponseOut(BaseModel):
    id: str
    respondent: str
    bank: str | None
    method: str | None
    created: str
    answers: dict[str, Any] | None = None
    scales: dict[str, ScaleScoreOut] | None = None


class Page(BaseModel):
    """A page of results; ``next`` is the cursor of the next page (``?after=``), null on the last."""

    items: list[Any]
    next: str | None
