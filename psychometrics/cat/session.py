"""One examinee's adaptive test, driven item by item, and its persistence.

A session is pure: it reads no clock and no file, and everything it does follows from its
settings, its seed and the answers it was given. :meth:`Session.to_json` writes all of it
(with the item pool unless told otherwise) and :meth:`Session.from_json` resumes exactly where
it stopped, with the same next item, so a service can store a session between two requests.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.bank import ItemBank
from psychometrics.cat._engine import Engine
from psychometrics.cat._options import Design, StopRule, build_design
from psychometrics.errors import ResponseError
from psychometrics.irt import Calibration

__all__ = ["Session", "SESSION_FORMAT", "SESSION_SCHEMA_VERSION"]

SESSION_FORMAT = "psychometrics-cat-session"
SESSION_SCHEMA_VERSION = 1


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


class Session:
    r"""An adaptive test of one examinee.

    Parameters
    ----------
    bank_or_calibration : ItemBank or Calibration
        The item pool. The scales of an :class:`~psychometrics.bank.ItemBank` are its content
        areas and must share one latent metric; a :class:`~psychometrics.irt.Calibration` takes
        its areas from ``attributes``.
    selection : {"mfi", "kl", "mpwi", "mepv", "progressive", "random", "shadow"}
        Item selection rule:

        - ``"mfi"``: maximum Fisher information at the interim estimate (Lord 1980);
        - ``"kl"``: Kullback-Leibler information integrated over
          :math:`\hat\theta \pm 3/\sqrt{n}` (Chang & Ying 1996);
        - ``"mpwi"``: Fisher information weighted by the posterior (van der Linden 1998);
        - ``"mepv"``: minimum expected posterior variance after the item (Owen 1975;
          van der Linden 1998);
        - ``"progressive"``: :math:`(1 - s)\,R_j + s\,I_j(\hat\theta)` with
          :math:`R_j \sim U(0, \max I)` and ``s`` the share of ``max_items`` given
          (Revuelta & Ponsoda 1998);
        - ``"random"``: uniformly among the eligible items;
        - ``"shadow"``: at each step the most informative full-length test holding the items
          given and every constraint (content counts, enemies) is assembled by
          :func:`scipy.optimize.milp`; its most informative free item is given (van der
          Linden & Reese 1998).
    exposure : None, "randomesque", {"randomesque": k} or Sympson-Hetter parameters
        ``"randomesque"`` gives one of the ``k`` (default 5) best items at random (Kingsbury
        & Zara 1989); Sympson-Hetter parameters come from :func:`exposure_parameters` (or a
        Series item -> probability of giving the item when selected).
    content : dict, optional
        Area -> target proportion (summing to 1; areas left out are not administered). Met by
        Kingsbury-Zara's constrained CAT (the next item comes from the area furthest below its
        target), or exactly for a full-length test by the shadow test.
    stop : dict or StopRule, optional
        Keys ``se``, ``min_items``, ``max_items`` (default 30, capped at the pool size), and
        for classification ``classification`` (``"ci"`` or ``"sprt"``), ``alpha``, ``beta``
        and ``indifference`` (see :class:`StopRule`).
    scoring : {"eap", "map", "wle", "ml"}
        Method of the reported :attr:`theta` and :attr:`se`, as :func:`psychometrics.irt.score`
        computes it on the answered items. Item selection and the SE stopping rule use the
        interim EAP estimate (finite from the first answer on, which ML is not).
    start_theta : float
        Theta at which the first item is selected.
    cut : float, optional
        Cut score on theta for pass/fail screens: the test also stops once the examinee is
        classified (by the confidence interval or the SPRT of ``stop["classification"]``),
        and :attr:`classification` says ``"pass"`` or ``"fail"``.
    seed : int, optional
        Seed of the random choices (random, progressive, exposure control); drawn and kept
        when not given, so a stored session replays exactly.
    attributes : DataFrame or Series, optional
        Item attributes indexed by item id; a column gives the content areas.
    content_column : str, optional
        Which column of ``attributes`` holds the areas (needed when it has several).
    enemies : list of lists of item ids, optional
        Sets of items never given in the same test.

    Examples
    --------
    >>> import pandas as pd
    >>> from psychometrics.irt import Calibration
    >>> params = pd.DataFrame({"a": [1.0, 1.5, 2.0], "b": [-1.0, 0.0, 1.0]}, index=["q1", "q2", "q3"])
    >>> session = Session(Calibration.from_item_params(params, "2pl"), stop={"max_items": 2}, seed=1)
    >>> session.next_item()
    'q2'
    >>> session.answer("q2", 1)
    >>> session.next_item()
    'q3'
    """

    def __init__(self, bank_or_calibration: ItemBank | Calibration, *, selection: str = "mfi",
                 exposure: Any = None, content: Mapping[str, float] | None = None,
                 stop: Mapping[str, Any] | StopRule | None = None, scoring: str = "eap",
                 start_theta: float = 0.0, cut: float | None = None, seed: int | None = None,
                 attributes: Any = None, content_column: str | None = None,
                 enemies: Sequence[Sequence[str]] | None = None) -> None:
        settings = dict(selection=selection, exposure=exposure, content=content, stop=stop, scoring=scoring,
                        start_theta=start_theta, cut=cut, attributes=attributes, content_column=content_column,
                        enemies=enemies)
        self._setup(_cached_design(bank_or_calibration, ("new", settings), settings), seed)

    def _setup(self, design: Design, seed: int | None) -> None:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self._design = design
        self._seed = int(seed)
        self._engine = Engine(design, 1, np.random.default_rng(self._seed))
        self._pending: int | None = None
        self._responses: list[Any] = []
        self._score_cache: tuple[int, float, float] | None = None

    _ROW = np.array([0])

    # ---------------------------------------------------------------------------- driving
    def next_item(self) -> str | None:
        """The item to give next, or None when the test is over.

        Asking again before answering returns the same item (nothing is drawn twice).
        """
        if self._engine.done[0]:
            return None
        if self._pending is None:
            chosen = int(self._engine.select(self._ROW)[0])
            if chosen < 0:
                self._engine.exhaust(self._ROW)
                return None
            self._pending = chosen
        return self._design.item_ids[self._pending]

    def answer(self, item: str, response: Any) -> None:
        """Record the answer to the item :meth:`next_item` gave.

        Parameters
        ----------
        item : str
            The item id (must be the pending item).
        response : number or None
            One of the item's response codes; None or NaN records the item as given but
            not answered (it leaves the likelihood untouched).

        Raises
        ------
        ResponseError
            When the test is over, the item is not the pending one, or the response is not
            one of the item's categories.
        """
        design = self._design
        if self._engine.done[0]:
            raise ResponseError(f"session: the test is over ({self.stop_reason}); item '{item}' cannot be answered")
        if self._pending is None:
            raise ResponseError(f"session: no item is pending; call next_item() before answering item '{item}'")
        expected = design.item_ids[self._pending]
        if str(item) != expected:
            raise ResponseError(f"session: item '{item}' was answered but the pending item is '{expected}' "
                                f"(position {int(self._engine.length[0]) + 1})")
        code, value = self._code(expected, response)
        self._engine.record(self._ROW, np.array([self._pending]), np.array([code]))
        self._responses.append(value)
        self._pending = None

    def _code(self, item: str, response: Any) -> tuple[int, Any]:
        if response is None or (isinstance(response, (float, np.floating)) and math.isnan(response)):
            return -1, None
        categories = self._design.calibration.categories[item]
        try:
            number = float(response)
        except (TypeError, ValueError):
            number = math.nan
        if not number.is_integer() or int(number) not in categories:
            raise ResponseError(f"session: item '{item}' (position {int(self._engine.length[0]) + 1}): response "
                                f"{response!r} is not one of its categories {', '.join(map(str, categories))}")
        return categories.index(int(number)), int(number)

    # ---------------------------------------------------------------------------- state
    @property
    def done(self) -> bool:
        """Whether the test is over (stopping rule met, or no eligible item left)."""
        if not self._engine.done[0] and self._pending is None and self.next_item() is None:
            return True
        return bool(self._engine.done[0])

    @property
    def administered(self) -> list[str]:
        """Item ids given so far, in order."""
        n = int(self._engine.length[0])
        return [self._design.item_ids[j] for j in self._engine.items[0, :n]]

    @property
    def responses(self) -> dict[str, Any]:
        """Item -> response code (None for an omitted answer), in order given."""
        return dict(zip(self.administered, self._responses))

    def _final(self) -> tuple[float, float]:
        if self._design.scoring == "eap":
            return float(self._engine.theta[0]), float(self._engine.se[0])
        n = int(self._engine.length[0])
        if self._score_cache is None or self._score_cache[0] != n:
            from psychometrics.scoring import score

            frame = pd.DataFrame([{k: (np.nan if v is None else v) for k, v in self.responses.items()}],
                                 columns=self.administered, dtype=np.float64)
            if n == 0:
                theta, se = (self._engine.theta[0], self._engine.se[0]) if self._design.scoring == "map" \
                    else (math.nan, math.nan)
            else:
                result = score(self._design.calibration, frame, method=self._design.scoring)
                theta, se = float(result["theta"].iloc[0]), float(result["se"].iloc[0])
            self._score_cache = (n, float(theta), float(se))
        return self._score_cache[1], self._score_cache[2]

    @property
    def theta(self) -> float:
        """Current estimate by ``scoring`` on the answered items (as :func:`psychometrics.irt.score`)."""
        return self._final()[0]

    @property
    def se(self) -> float:
        """Standard error of :attr:`theta`."""
        return self._final()[1]

    @property
    def stop_reason(self) -> str:
        """``"se"``, ``"max_items"``, ``"classification"``, ``"exhausted"``, or ``""`` while testing."""
        return str(self._engine.stop_reason[0])

    @property
    def classification(self) -> str | None:
        """``"pass"``/``"fail"`` against ``cut`` once decided (None without a cut)."""
        if self._engine.classification is None:
            return None
        return str(self._engine.classification[0]) or None

    @property
    def history(self) -> pd.DataFrame:
        """One row per item given (index ``position`` from 1): ``item``, ``response`` and the
        interim EAP ``theta`` and ``se`` after it."""
        n = int(self._engine.length[0])
        return pd.DataFrame({"item": self.administered, "response": np.array(self._responses, dtype=object),
                             "theta": self._engine.theta_history[0, :n], "se": self._engine.se_history[0, :n]},
                            index=pd.RangeIndex(1, n + 1, name="position"))

    @property
    def seed(self) -> int:
        return self._seed

    # ---------------------------------------------------------------------------- service API
    def status(self) -> dict[str, Any]:
        """Where the test stands, as plain JSON values: the next ``item`` (None when over), its
        ``position``, ``done``, ``n_items`` given, ``theta``, ``se``, ``stop_reason`` and
        ``classification``. Selects the next item if none is pending."""
        item = self.next_item()
        theta, se = self._final()
        return {"item": item, "position": None if item is None else int(self._engine.length[0]) + 1,
                "done": item is None, "n_items": int(self._engine.length[0]), "theta": _json_number(theta),
                "se": _json_number(se), "stop_reason": self.stop_reason or None,
                "classification": self.classification}

    def start(self) -> dict[str, Any]:
        """The first item, as :meth:`status` (what a service returns when a test starts)."""
        return self.status()

    def submit(self, item: str, response: Any) -> dict[str, Any]:
        """Answer the pending item and return :meth:`status`: the next item, or the final scores."""
        self.answer(item, response)
        return self.status()

    # ---------------------------------------------------------------------------- persistence
    def to_json(self, *, include_bank: bool = True) -> str:
        """The session as JSON text: settings, seed, random state, answers and the pending item.

        Parameters
        ----------
        include_bank : bool
            Embed the item pool's calibration so the text resumes on its own. Without it,
            :meth:`from_json` needs the same bank (checked by its SHA-256 fingerprint).
        """
        engine = self._engine
        doc = {
            "format": SESSION_FORMAT,
            "schema_version": SESSION_SCHEMA_VERSION,
            "options": self._design.options(),
            "seed": self._seed,
            "bank_fingerprint": self._design.fingerprint,
            "answers": [[item, value] for item, value in zip(self.administered, self._responses)],
            "set_aside": [self._design.item_ids[j] for j in np.flatnonzero(engine.set_aside[0])],
            "pending": None if self._pending is None else self._design.item_ids[self._pending],
            "stop_reason": self.stop_reason,
            "random_state": engine.rng.bit_generator.state,
            "calibration": json.loads(self._design.calibration.to_json()) if include_bank else None,
        }
        return json.dumps(doc, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes, bank: ItemBank | Calibration | None = None) -> "Session":
        """Resume a session written by :meth:`to_json`.

        Parameters
        ----------
        text : str or bytes
        bank : ItemBank or Calibration, optional
            The pool, when the text does not embed it; it must be the one the session began with.

        Raises
        ------
        ValueError
            When the text is not a session document, the bank differs, or an answer does not
            fit the pool.
        """
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a CAT session document: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
            raise ValueError(f"not a CAT session document (expected \"format\": \"{SESSION_FORMAT}\")")
        if doc.get("schema_version") != SESSION_SCHEMA_VERSION:
            raise ValueError(f"CAT session schema version {doc.get('schema_version')!r} is not supported "
                             f"(this version reads {SESSION_SCHEMA_VERSION})")
        missing = [k for k in ("options", "seed", "bank_fingerprint", "answers", "set_aside", "pending",
                               "stop_reason", "random_state") if k not in doc]
        if missing:
            raise ValueError(f"invalid CAT session document: field(s) {missing} missing")
        if bank is None:
            if doc.get("calibration") is None:
                raise ValueError("the session was stored without its item pool; pass bank= to resume it")
            bank = Calibration.from_json(json.dumps(doc["calibration"]))
        design = _resume_design(bank, doc["options"])
        if design.fingerprint != doc["bank_fingerprint"]:
            raise ValueError("the item bank differs from the one the session began with (fingerprint mismatch)")
        session = cls.__new__(cls)
        session._setup(design, doc["seed"])
        engine = session._engine
        positions, codes = [], []
        for position, (item, value) in enumerate(doc["answers"], start=1):
            if item not in design.position:
                raise ValueError(f"session answer {position}: item '{item}' is not in the pool")
            if position > design.stop.max_items:
                raise ValueError(f"session answer {position}: more answers than max_items={design.stop.max_items}")
            code, value = session._code(item, value)
            positions.append(design.position[item])
            codes.append(code)
            session._responses.append(value)
        if len(set(positions)) != len(positions):
            raise ValueError("session answers: an item appears twice")
        # all answers in one pass (Engine.replay equals recording them one by one)
        engine.replay(np.array(positions, dtype=np.int64), np.array(codes, dtype=np.int64))
        for item in doc["set_aside"]:
            engine.set_aside[0, design.position[item]] = True
        if doc["stop_reason"] == "exhausted" and not engine.done[0]:
            engine.exhaust(session._ROW)
        if str(engine.stop_reason[0]) != doc["stop_reason"]:
            raise ValueError(f"the stored answers do not reproduce the session's state (stop reason "
                             f"{str(engine.stop_reason[0])!r}, stored {doc['stop_reason']!r})")
        engine.rng.bit_generator.state = doc["random_state"]
        pending = doc["pending"]
        session._pending = None if pending is None else design.position[pending]
        return session

    def __repr__(self) -> str:
        return (f"<cat.Session {self._design.selection}, {int(self._engine.length[0])} item(s) given, "
                f"theta {self.theta:.3f}, se {self.se:.3f}{', done' if self._engine.done[0] else ''}>")


#: Compiled designs of resumed sessions, by pool object and options (bounded, least recently
#: used out). A service resumes a stored session on every answer; checking the settings and
#: fingerprinting the pool each time would cost more than selecting the next item.
_DESIGNS: "OrderedDict[tuple[int, str], tuple[Any, Design]]" = OrderedDict()
_DESIGNS_SIZE = 128
_DESIGNS_LOCK = threading.Lock()


def _resume_design(bank: ItemBank | Calibration, options: Mapping[str, Any]) -> Design:
    """The design of a stored session: ``build_design`` on its options, cached per (pool, options)."""
    stop = dict(options["stop"])
    cut = stop.pop("cut", None)
    return _cached_design(bank, ("stored", options), dict(
        selection=options["selection"], exposure=options["exposure"], content=options["content"], stop=stop,
        scoring=options["scoring"], start_theta=options["start_theta"], cut=cut,
        enemies=options["enemies"] or None, areas=options["areas"]))


def _cached_design(bank: ItemBank | Calibration, key: Any, settings: dict[str, Any]) -> Design:
    """``build_design(bank, **settings)``, cached per pool object and ``key`` when ``key`` is plain
    JSON (settings holding a DataFrame or a Series are built each time). The pool is held by the
    entry, so its ``id`` cannot be reused while cached; pools (item banks, calibrations) are not
    changed in place, so an entry never goes stale. A setting that fails is not cached."""
    try:
        text = json.dumps(key, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return build_design(bank, **settings)
    key = (id(bank), text)
    with _DESIGNS_LOCK:
        entry = _DESIGNS.get(key)
        if entry is not None and entry[0] is bank:
            _DESIGNS.move_to_end(key)
            return entry[1]
    design = build_design(bank, **settings)
    design.fingerprint  # computed once, kept with the design  # noqa: B018
    with _DESIGNS_LOCK:
        _DESIGNS[key] = (bank, design)
        _DESIGNS.move_to_end(key)
        while len(_DESIGNS) > _DESIGNS_SIZE:
            _DESIGNS.popitem(last=False)
    return design
