"""Instruments as data: questionnaires, rating forms and tests described in YAML or JSON.

An :class:`Instrument` says which items exist, what they ask, which scale each belongs to,
how it is keyed and answered (Likert options, a keyed dichotomous or multiple-choice item,
situational-judgement options with effectiveness scores), how scale scores are formed
(sum or mean, minimum number of items answered, norms) and which non-item columns the data
carry (rater role and target of a 360-degree form). :meth:`Instrument.prepare` turns raw
data into validated, keyed and scored :class:`~psychometrics.data.Responses`;
:meth:`Instrument.score` turns them into scale scores.

The instruments shipped with the package are listed by :func:`list_bundled` and loaded with
:meth:`Instrument.bundled`; each has a simulated sample data file, :func:`bundled_sample`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from psychometrics.data import KEYED_ATTR, ItemSpec, Responses, load_responses
from psychometrics.errors import InstrumentError
from psychometrics.storage import atomic_write_text

__all__ = [
    "Choice",
    "DataColumn",
    "DichotomousFormat",
    "Instrument",
    "Item",
    "LikertFormat",
    "LikertOption",
    "MultipleChoiceFormat",
    "Norm",
    "RaterRole",
    "Scale",
    "Scoring",
    "SituationalJudgementFormat",
    "SJTOption",
    "bundled_sample",
    "list_bundled",
]

Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


def _as_text(value: Any) -> Any:
    # YAML reads "version: 1.0" as a float and option ids such as 1 as integers.
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_as_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Model):
    """A scale (or competency, or content area): the items scored together.

    ``direction`` says whether a high score is favourable (teamwork) or unfavourable (a stress
    or counterproductive-behaviour scale); reports colour and caption scores by it.
    """

    id: Identifier
    name: str
    description: str = ""
    direction: Literal["higher_is_favourable", "higher_is_unfavourable"] = "higher_is_favourable"


class LikertOption(_Model):
    """One labelled option of a rating scale, with its integer code."""

    code: int
    label: str


class Choice(_Model):
    """One option of a keyed item (dichotomous or multiple choice)."""

    id: Text = Field(min_length=1)
    text: str


class SJTOption(_Model):
    """One course of action of a situational-judgement item, with its keyed effectiveness."""

    id: Text = Field(min_length=1)
    text: str
    effectiveness: int = Field(ge=0, description="Keyed effectiveness, 0 = least effective.")


def _require_unique(values: Iterable[Any], what: str) -> None:
    """Raise naming the repeated values; text compares ignoring case (ids 'A' and 'a' clash)."""
    seen: set[Any] = set()
    repeated: list[Any] = []
    for value in values:
        key = value.casefold() if isinstance(value, str) else value
        if key in seen and value not in repeated:
            repeated.append(value)
        seen.add(key)
    if repeated:
        note = " (ignoring case)" if any(isinstance(value, str) for value in repeated) else ""
        raise ValueError(f"{what} must be unique{note}; repeated: {', '.join(map(str, repeated))}")


class LikertFormat(_Model):
    """Ordered rating options, e.g. 1 = strongly disagree ... 5 = strongly agree."""

    type: Literal["likert"]
    options: list[LikertOption] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self) -> "LikertFormat":
        _require_unique((option.code for option in self.options), "option codes")
        return self

    @property
    def codes(self) -> tuple[int, ...]:
        return tuple(sorted(option.code for option in self.options))


class _KeyedFormat(_Model):
    options: list[Choice] = Field(min_length=2)
    key: Text

    @model_validator(mode="after")
    def _check(self) -> "_KeyedFormat":
        ids = [option.id for option in self.options]
        _require_unique(ids, "option ids")
        if self.key.casefold() not in {i.casefold() for i in ids}:
            raise ValueError(f"key '{self.key}' is not among the options {', '.join(ids)}")
        return self


class DichotomousFormat(_KeyedFormat):
    """Two options, one of them keyed correct (true/false, yes/no, or already scored 0/1)."""

    type: Literal["dichotomous"]
    options: list[Choice] = Field(min_length=2, max_length=2)


class MultipleChoiceFormat(_KeyedFormat):
    """A question with several options of which the key is correct; scored 1 or 0."""

    type: Literal["multiple_choice"]


class SituationalJudgementFormat(_Model):
    """A scenario's courses of action, each with a keyed effectiveness score."""

    type: Literal["situational_judgement"]
    options: list[SJTOption] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self) -> "SituationalJudgementFormat":
        _require_unique((option.id for option in self.options), "option ids")
        return self

    @property
    def best(self) -> list[str]:
        """Option id(s) with the highest effectiveness."""
        top = max(option.effectiveness for option in self.options)
        return [option.id for option in self.options if option.effectiveness == top]


_FORMAT_TAGS = ("likert", "dichotomous", "multiple_choice", "situational_judgement")


def _format_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "ref"
    if isinstance(value, Mapping):
        return value.get("type")
    return getattr(value, "type", None)


ResponseFormat = Annotated[
    Union[
        Annotated[LikertFormat, Tag("likert")],
        Annotated[DichotomousFormat, Tag("dichotomous")],
        Annotated[MultipleChoiceFormat, Tag("multiple_choice")],
        Annotated[SituationalJudgementFormat, Tag("situational_judgement")],
    ],
    Discriminator(_format_tag, custom_error_type="invalid_format",
                  custom_error_message="response format needs a 'type': likert, dichotomous, "
                                       "multiple_choice or situational_judgement"),
]

# An item's response is either a format written in place or the name of one of the
# instrument's shared ``formats`` (so a 50-item Likert form states its options once).
ItemResponse = Annotated[
    Union[
        Annotated[str, Tag("ref")],
        Annotated[LikertFormat, Tag("likert")],
        Annotated[DichotomousFormat, Tag("dichotomous")],
        Annotated[MultipleChoiceFormat, Tag("multiple_choice")],
        Annotated[SituationalJudgementFormat, Tag("situational_judgement")],
    ],
    Discriminator(_format_tag, custom_error_type="invalid_format",
                  custom_error_message="response must name a format of 'formats' or give a format with "
                                       "a 'type': likert, dichotomous, multiple_choice or situational_judgement"),
]

AnyFormat = Union[LikertFormat, DichotomousFormat, MultipleChoiceFormat, SituationalJudgementFormat]


class Item(_Model):
    """One item: its text, scale, keying and response format."""

    id: Identifier
    text: str
    scale: Identifier
    keying: Literal["+", "-"] = "+"
    response: ItemResponse
    tags: list[str] = Field(default_factory=list)


class Norm(_Model):
    """Mean and standard deviation of a scale's raw score in a norm sample."""

    mean: float
    sd: float = Field(gt=0)
    n: int = Field(ge=2)
    source: str


class Scoring(_Model):
    """How item scores become scale scores.

    ``min_answered`` is the least number of answered items for a scale score, as a count
    (int) or a share of the scale's items (float in (0, 1], rounded up); with fewer the
    score is missing, with more but not all it is prorated (mean of the answered items,
    times the number of items for ``method="sum"``). ``option_scoring`` chooses how
    situational-judgement items are scored: ``"partial"`` gives the chosen option's
    effectiveness, ``"best"`` 1 for the most effective option and 0 otherwise.
    """

    method: Literal["sum", "mean"] = "mean"
    min_answered: Union[int, float] = Field(0.5, gt=0, description="Count of items (int) or share of "
                                                                     "the scale's items (float in (0, 1]).")
    option_scoring: Literal["partial", "best"] = "partial"
    norms: dict[str, Norm] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "Scoring":
        if isinstance(self.min_answered, float) and self.min_answered > 1.0:
            raise ValueError(f"min_answered as a share must be in (0, 1], got {self.min_answered}; "
                             "write a count as an integer")
        return self


class Analysis(_Model):
    """How ``psychometrics validate`` analyses the instrument by default.

    ``model: mirt`` also fits the scales as one correlated-factors IRT model (factor
    correlations, each scale's reliability in that model), as ``validate --model mirt``.
    """

    model: Literal["unidimensional", "mirt"] = Field(
        "unidimensional", description="'mirt': also fit the scales as one correlated-factors model.")


class RaterRole(_Model):
    """A kind of rater of a multi-rater (360-degree) form."""

    id: Identifier
    name: str
    description: str = ""


class DataColumn(_Model):
    """A non-item column the data carry (target id, rater role, group...)."""

    name: Identifier
    role: Literal["target_id", "rater_role", "rater_id", "group", "other"] = "other"
    description: str = ""
    values: list[Text] | None = Field(None, description="Admissible values; rater_role defaults to the "
                                                              "ids of rater_roles.")


class Instrument(_Model):
    """A questionnaire, rating form or test, described as data.

    Examples
    --------
    >>> from psychometrics.instrument import Instrument
    >>> inst = Instrument.bundled("soft-skills-7")
    >>> len(inst.scales)
    7
    """

    id: Identifier
    version: Text
    title: str
    description: str = ""
    kind: Literal["self_report", "multi_rater", "situational_judgement", "knowledge_test", "other"] = "self_report"
    language: str = "en"
    id_column: str | None = "respondent_id"
    missing_codes: list[Union[int, float, str]] = Field(default_factory=list)
    formats: dict[str, ResponseFormat] = Field(default_factory=dict)
    scales: list[Scale] = Field(min_length=1)
    items: list[Item] = Field(min_length=1)
    scoring: Scoring = Field(default_factory=Scoring)
    analysis: Analysis = Field(default_factory=Analysis)
    rater_roles: list[RaterRole] = Field(default_factory=list)
    data_columns: list[DataColumn] = Field(default_factory=list)

    # ------------------------------------------------------------------ consistency
    @model_validator(mode="after")
    def _check_consistency(self) -> "Instrument":
        problems: list[str] = []
        scale_ids = [scale.id for scale in self.scales]
        for i, scale_id in enumerate(scale_ids):
            if scale_id in scale_ids[:i]:
                problems.append(f"scales[{i}].id: duplicate scale id '{scale_id}'")
        item_ids = [item.id for item in self.items]
        first: dict[str, int] = {}
        counts = dict.fromkeys(scale_ids, 0)
        for i, item in enumerate(self.items):
            where = f"items[{i}] (id '{item.id}')"
            if item.id in first:
                problems.append(f"{where}.id: duplicate item id, first used by items[{first[item.id]}]")
            first.setdefault(item.id, i)
            if item.scale not in counts:
                problems.append(f"{where}.scale: scale '{item.scale}' is not defined in scales "
                                f"({', '.join(scale_ids)})")
            else:
                counts[item.scale] += 1
            fmt = self.formats.get(item.response) if isinstance(item.response, str) else item.response
            if fmt is None:
                defined = ", ".join(self.formats) or "none defined"
                problems.append(f"{where}.response: format '{item.response}' is not defined in formats ({defined})")
                continue
            if item.keying == "-" and not isinstance(fmt, LikertFormat):
                problems.append(f"{where}.keying: reverse keying applies to likert items only, not {fmt.type}")
            if (isinstance(fmt, SituationalJudgementFormat) and self.scoring.option_scoring == "best"
                    and len(fmt.best) > 1):
                problems.append(f"{where}.response.options: best-option scoring needs one most effective "
                                f"option, found {', '.join(fmt.best)}")
        for scale_id, count in counts.items():
            if count == 0:
                problems.append(f"scales[{scale_ids.index(scale_id)}]: scale '{scale_id}' has no items")
            elif isinstance(self.scoring.min_answered, int) and self.scoring.min_answered > count:
                problems.append(f"scoring.min_answered: {self.scoring.min_answered} is more than the "
                                f"{count} items of scale '{scale_id}'")
        for scale_id in self.scoring.norms:
            if scale_id not in counts:
                problems.append(f"scoring.norms.{scale_id}: scale '{scale_id}' is not defined in scales")
        names = [column.name for column in self.data_columns]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append(f"data_columns[{i}].name: duplicate column '{name}'")
            if name in first:
                problems.append(f"data_columns[{i}].name: '{name}' is also an item id")
            if name == self.id_column:
                problems.append(f"data_columns[{i}].name: '{name}' is also the id_column")
        if self.id_column in first:
            problems.append(f"id_column: '{self.id_column}' is also an item id")
        role_ids = [role.id for role in self.rater_roles]
        for i, role_id in enumerate(role_ids):
            if role_id in role_ids[:i]:
                problems.append(f"rater_roles[{i}].id: duplicate rater role '{role_id}'")
        if role_ids and not any(column.role == "rater_role" for column in self.data_columns):
            problems.append("data_columns: rater_roles are defined but no data column has role 'rater_role'")
        del item_ids
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ------------------------------------------------------------------ reading and writing
    @classmethod
    def from_dict(cls, data: Any, *, source: str = "instrument") -> "Instrument":
        """Validate a parsed YAML/JSON document; problems raise :class:`InstrumentError`."""
        if not isinstance(data, Mapping):
            raise InstrumentError(f"{source}: an instrument must be a mapping of fields, "
                                  f"got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InstrumentError(_describe(exc, data, source)) from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Instrument":
        """Read an instrument from a ``.yaml``/``.yml`` or ``.json`` file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"instrument file {str(path)!r} does not exist")
        text = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
        if suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InstrumentError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, "
                                      f"column {exc.colno})") from None
        elif suffix in {".yaml", ".yml"}:
            import yaml

            try:
                # The C loader is much faster on large forms where libyaml is available.
                data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
                problem = getattr(exc, "problem", None) or str(exc)
                raise InstrumentError(f"{path}: not valid YAML: {problem}{where}") from None
        else:
            raise InstrumentError(f"{path}: unknown instrument file type {suffix!r} (use .yaml, .yml or .json)")
        if data is None:
            raise InstrumentError(f"{path}: the file is empty")
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (as written by :meth:`save`), leaving out fields at their defaults."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the instrument as YAML or JSON (by suffix), atomically.

        The text goes to a temporary file beside ``path`` that then replaces ``path`` in one
        step (:func:`psychometrics.storage.atomic_write_text`), so a failure never leaves a
        half-written instrument.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".json":
            text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        elif suffix in {".yaml", ".yml"}:
            import yaml

            text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)
        else:
            raise InstrumentError(f"{path}: unknown instrument file type {suffix!r} (use .yaml, .yml or .json)")
        return atomic_write_text(path, text)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of instrument files."""
        schema = cls.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        return schema

    @classmethod
    def bundled(cls, name: str) -> "Instrument":
        """One of the instruments shipped with the package (see :func:`list_bundled`)."""
        return cls.load(_bundled_file(name))

    # ------------------------------------------------------------------ structure
    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"instrument '{self.id}' has no item '{item_id}'")

    def response_format(self, item_id: str) -> AnyFormat:
        """The response format of an item, with references to shared formats resolved."""
        item = self.item(item_id)
        return self.formats[item.response] if isinstance(item.response, str) else item.response

    @property
    def item_ids(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def reverse_keyed(self) -> list[str]:
        return [item.id for item in self.items if item.keying == "-"]

    def scale_items(self) -> dict[str, list[str]]:
        """Scale id -> its item ids, in the order of ``scales`` and ``items``."""
        out: dict[str, list[str]] = {scale.id: [] for scale in self.scales}
        for item in self.items:
            out[item.scale].append(item.id)
        return out

    def item_specs(self) -> dict[str, ItemSpec]:
        """Per item: admissible scored codes, reverse keying, and option scores for keyed items."""
        specs: dict[str, ItemSpec] = {}
        for item in self.items:
            fmt = self.response_format(item.id)
            if isinstance(fmt, LikertFormat):
                specs[item.id] = ItemSpec(fmt.codes, reverse=item.keying == "-")
            elif isinstance(fmt, (DichotomousFormat, MultipleChoiceFormat)):
                key = fmt.key.casefold()
                specs[item.id] = ItemSpec((0, 1), options={o.id: int(o.id.casefold() == key) for o in fmt.options})
            elif self.scoring.option_scoring == "best":
                best = set(fmt.best)
                specs[item.id] = ItemSpec((0, 1), options={o.id: int(o.id in best) for o in fmt.options})
            else:
                scores = [o.effectiveness for o in fmt.options]
                specs[item.id] = ItemSpec(tuple(range(min(scores), max(scores) + 1)),
                                          options={o.id: o.effectiveness for o in fmt.options})
        return specs

    def metadata_columns(self) -> list[str]:
        """Names of the declared non-item data columns."""
        return [column.name for column in self.data_columns]

    def metadata_values(self) -> dict[str, list[str]]:
        """Declared data column -> its admissible values (rater roles by default)."""
        out: dict[str, list[str]] = {}
        for column in self.data_columns:
            if column.values is not None:
                out[column.name] = list(column.values)
            elif column.role == "rater_role" and self.rater_roles:
                out[column.name] = [role.id for role in self.rater_roles]
        return out

    # ------------------------------------------------------------------ data
    def prepare(self, frame: Any, *, missing_codes: Iterable[Any] | None = None, id_column: str | None = None,
                items: Sequence[str] | None = None, exclude: Sequence[str] | None = None, sep: str | None = None,
                encoding: str | None = None, min_item_responses: int = 5, warn: bool = True) -> Responses:
        """Validate raw data against the instrument and return scored, keyed responses.

        Parameters
        ----------
        frame : DataFrame, ndarray, path or Responses
            One row per respondent (per rating for multi-rater forms). Columns: the id column
            (``id_column`` of the instrument, unless given here), items, and the declared
            ``data_columns``; any other column is an error. A :class:`Responses` is taken as
            already prepared (it is not keyed a second time).
        missing_codes : iterable, optional
            Codes meaning "no answer"; by default the instrument's ``missing_codes``.
        id_column : str, optional
            Column of respondent ids, when it is not the instrument's ``id_column``.
        items : sequence of str, optional
            Only these items; the instrument's other items in the data are kept as metadata.
        exclude : sequence of str, optional
            Columns that are neither items nor declared ``data_columns`` (demographics,
            dates...): kept as metadata instead of being an error.
        sep, encoding : str, optional
            Separator and encoding of a text file (see :func:`~psychometrics.data.load_responses`).
        min_item_responses : int, default 5
            Items with fewer responses get a :class:`~psychometrics.errors.DataWarning`.
        warn : bool, default True
            Issue the data warnings (constant or sparse items, empty rows, items of the
            instrument not in the data); ``False`` for scoring a few respondents on a few
            items, where they say nothing. Errors are raised either way.

        Returns
        -------
        Responses
            Likert codes with reverse-keyed items reversed (``min + max - x``), keyed
            items scored 0/1, situational-judgement items scored by ``scoring.option_scoring``.
            The declared data columns (rater role, target id...) are in ``.metadata``,
            indexed like ``.frame``.
        """
        codes = self.missing_codes if missing_codes is None else list(missing_codes)
        already = isinstance(frame, Responses) or (isinstance(frame, pd.DataFrame) and frame.attrs.get(KEYED_ATTR))
        responses = load_responses(frame, instrument=self, missing_codes=codes, id_column=id_column, items=items,
                                   exclude=exclude, sep=sep, encoding=encoding,
                                   min_item_responses=min_item_responses, warn=warn)
        if warn and not already:
            self._warn_about_keying(responses)
        return responses

    def _warn_about_keying(self, responses: Responses) -> None:
        """After keying, an item that correlates negatively with the rest of its scale is
        probably keyed the wrong way (or worded so that respondents misread it)."""
        import warnings

        import numpy as np

        from psychometrics.errors import DataWarning

        present = set(responses.item_ids)
        position = {item: j for j, item in enumerate(responses.item_ids)}
        suspects: list[str] = []
        values = responses.frame
        for scale_id, items in self.scale_items().items():
            items = [i for i in items if i in present]
            if len(items) < 3:
                continue
            block = values.iloc[:, [position[i] for i in items]].to_numpy(dtype=np.float64)
            answered = ~np.isnan(block)
            filled = np.where(answered, block, 0.0)
            total, count = filled.sum(axis=1), answered.sum(axis=1)
            for k, item in enumerate(items):
                rest_count = count - answered[:, k]
                use = answered[:, k] & (rest_count > 0)
                if use.sum() < 10:
                    continue
                x = block[use, k]
                rest = (total[use] - filled[use, k]) / rest_count[use]
                if x.std() == 0 or rest.std() == 0:
                    continue
                r = float(np.corrcoef(x, rest)[0, 1])
                if r < 0:
                    suspects.append(f"'{item}' ({scale_id}, r = {r:.2f}" + (", reverse-keyed" if
                                                                             self.item(item).keying == "-"
                                                                             else "") + ")")
        if suspects:
            warnings.warn(f"{len(suspects)} item(s) correlate negatively with the rest of their scale after keying, "
                          f"possibly miskeyed: {', '.join(suspects[:10])}{' ...' if len(suspects) > 10 else ''}; "
                          "check the item's keying in the instrument", DataWarning, stacklevel=3)

    def score(self, frame: Any, *, missing_codes: Iterable[Any] | None = None) -> pd.DataFrame:
        """Scale scores of each respondent (each rating for multi-rater forms).

        Raw scores follow ``scoring`` (sum or mean, at least ``min_answered`` items answered,
        prorated when some are missing) through :func:`psychometrics.ctt.scale_scores`.
        Scales with norms get ``<scale>_z``, ``<scale>_T`` (50 + 10 z) and
        ``<scale>_percentile`` (100 Phi(z) under the normal norm) columns from
        :func:`psychometrics.norms.norm_scores`.

        Returns
        -------
        DataFrame
            Indexed by respondent id; one column per scale, then the norm-based columns.
            Multi-rater metadata (target, rater role) is in ``prepare(frame).metadata``.
        """
        from psychometrics.ctt import scale_scores

        responses = frame if isinstance(frame, Responses) else self.prepare(frame, missing_codes=missing_codes)
        present = set(responses.item_ids)
        scales = {scale_id: [item for item in items if item in present]
                  for scale_id, items in self.scale_items().items()}
        scales = {scale_id: items for scale_id, items in scales.items() if items}
        raw = scale_scores(responses, scales, method=self.scoring.method,
                           min_answered=self.scoring.min_answered, prorate=True)
        scores = raw if isinstance(raw, pd.DataFrame) else pd.DataFrame(raw)
        if not self.scoring.norms:
            return scores
        from psychometrics.norms import norm_scores

        extra: dict[str, Any] = {}
        for scale_id, norm in self.scoring.norms.items():
            if scale_id not in scores.columns:
                continue
            converted = norm_scores(scores[scale_id], mean=norm.mean, sd=norm.sd)
            extra[f"{scale_id}_z"] = converted["z"].to_numpy()
            extra[f"{scale_id}_T"] = converted["t"].to_numpy()
            extra[f"{scale_id}_percentile"] = converted["percentile"].to_numpy()
        return pd.concat([scores, pd.DataFrame(extra, index=scores.index)], axis=1)


# ---------------------------------------------------------------------- error messages

def _describe(exc: ValidationError, data: Mapping[str, Any], source: str) -> str:
    lines: list[str] = []
    for error in exc.errors():
        loc = list(error["loc"])
        parts: list[str] = []
        for k, part in enumerate(loc):
            previous = loc[k - 1] if k >= 1 else None
            before = loc[k - 2] if k >= 2 else None
            if part in _FORMAT_TAGS + ("ref",) and (previous == "response" or before == "formats"):
                continue  # the union member's tag; the type is in the data already
            if isinstance(part, int):
                label = f"[{part}]"
                if k >= 1 and loc[k - 1] == "items":
                    items = data.get("items")
                    if isinstance(items, list) and part < len(items) and isinstance(items[part], Mapping) \
                            and "id" in items[part]:
                        label += f" (id '{items[part]['id']}')"
                parts.append(label)
            else:
                parts.append(("." if parts else "") + str(part))
        path = "".join(parts)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] in {"missing"}:
            message = "required field is missing"
        elif error["type"] in {"extra_forbidden"}:
            message = "unknown field (not part of the instrument schema)"
        elif (error["type"] not in {"value_error", "invalid_format"}
              and not isinstance(error.get("input"), (dict, list))):
            message += f" (got {error.get('input')!r})"
        if path:
            lines.extend(f"{path}: {line}" for line in message.split("\n"))
        else:
            lines.extend(message.split("\n"))
    count = len(lines)
    return f"invalid instrument {source}: {count} problem{'s' if count != 1 else ''}\n  " + "\n  ".join(lines)


# ---------------------------------------------------------------------- bundled instruments

def _instrument_dir() -> Path:
    """Folder of the bundled instruments.

    ``psychometrics/instruments`` is a link to the repository's ``instruments/`` folder
    and is shipped as package data, so the same path works in a checkout, an editable
    install and a built wheel; the repository folder itself is the fallback.
    """
    here = Path(__file__).resolve().parent
    for candidate in (Path(__file__).parent / "instruments", here.parent / "instruments"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    raise FileNotFoundError("the bundled instruments folder is missing from this installation")


def list_bundled() -> list[str]:
    """Ids of the instruments shipped with the package."""
    return sorted(path.stem for path in _instrument_dir().glob("*.yaml"))


def _bundled_file(name: str) -> Path:
    stem = Path(str(name)).name
    for suffix in (".yaml", ".yml", ".json"):
        stem = stem.removesuffix(suffix)
    path = _instrument_dir() / f"{stem}.yaml"
    if not path.is_file():
        raise InstrumentError(f"no bundled instrument '{name}'; bundled: {', '.join(list_bundled())}")
    return path


def bundled_sample(name: str) -> Path:
    """Path of the simulated sample data file of a bundled instrument."""
    stem = _bundled_file(name).stem
    path = _instrument_dir() / f"{stem}.sample.csv"
    if not path.is_file():
        raise FileNotFoundError(f"bundled instrument '{stem}' has no sample data file ({path.name})")
    return path


def _register_reader() -> None:
    # data.load_responses(instrument="file.yaml") reads the file through this module, which sits
    # above data.py: registering here keeps the import one-way
    from psychometrics import data

    if Instrument.load not in data.INSTRUMENT_READERS:
        data.INSTRUMENT_READERS.append(Instrument.load)


_register_reader()
