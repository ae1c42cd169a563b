r"""360-degree feedback: self against others, per target and competency.

A 360-degree form is one row per rating (a rater rating a target) with a rater role (self,
manager, peer, direct report...). :func:`feedback` turns it into what a feedback report
needs and what an analyst checks:

* every rater's competency score (mean of the competency's answered items);
* per target and competency the self score, the mean of the other raters (each rater counts
  once) and of each role, the gap self - others, and the blind spots (self well above
  others) and hidden strengths (self well below), with the threshold stated;
* per target and item the same gap, for the items with the largest gaps;
* agreement within each role (mean :math:`r_{wg(J)}` over targets, ICC(1) and ICC(2) of the
  role's ratings, from :mod:`psychometrics.agreement`), a halo index per role, and role
  means over the organisation.

Anonymity rule
--------------
Ratings of raters other than the target are shown only for groups of at least
``min_raters`` raters (default and minimum 3):

1. the others' mean (all raters but self) only when at least ``min_raters`` of them answered;
2. a role separately only when at least ``min_raters`` raters of that role answered;
3. and only when the raters of the roles *not* shown separately number 0 or at least
   ``min_raters`` together: otherwise their mean could be recovered from the others' mean by
   subtraction. While that fails, the role with the fewest raters among those shown (the
   first in role order on a tie) is withheld as well.

Counts of raters per role are always shown; they say nothing about what anyone answered.
The same rule applies to each target x competency (a rater who answered no item of a
competency does not count there) and, for the others' mean, to each item.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from psychometrics.data import Responses, load_responses
from psychometrics.errors import ResponseError

__all__ = ["feedback", "FeedbackResult", "visible_roles", "BLIND_SPOT", "HIDDEN_STRENGTH"]

BLIND_SPOT = "blind spot"
HIDDEN_STRENGTH = "hidden strength"
_OTHERS = "others"


def visible_roles(counts: Mapping[str, int], min_raters: int = 3) -> list[str]:
    """The roles shown separately under the anonymity rule (see the module docstring).

    Parameters
    ----------
    counts : mapping
        Non-self role -> number of raters of that role who answered, in role order.
    min_raters : int
        Smallest group shown.

    Examples
    --------
    >>> visible_roles({"manager": 1, "peer": 3, "direct_report": 4})   # the manager alone is hidden,
    ['direct_report']
    >>> visible_roles({"manager": 3, "peer": 3, "direct_report": 0})
    ['manager', 'peer']
    """
    shown = [role for role, n in counts.items() if n >= min_raters]
    hidden = sum(n for role, n in counts.items() if role not in shown)
    while shown and 0 < hidden < min_raters:
        # ... so that the hidden raters cannot be recovered from the others' mean
        smallest = min(shown, key=lambda role: (counts[role], shown.index(role)))
        shown.remove(smallest)
        hidden += counts[smallest]
    return shown


@dataclass(frozen=True)
class FeedbackResult:
    """Self-other comparisons of a 360-degree form (see :func:`feedback`).

    Attributes
    ----------
    profile : DataFrame
        Indexed by (target, competency): ``self``, ``others`` (mean of the other raters),
        ``gap`` (self - others), ``flag`` (``"blind spot"``, ``"hidden strength"`` or ``""``),
        ``rwg_j`` (agreement among the others), ``n_others``, then per non-self role its
        mean (NaN where the anonymity rule withholds it) and ``n_<role>``.
    items : DataFrame
        Indexed by (target, item): ``competency``, ``self``, ``others``, ``gap``, ``n_others``.
    rater_counts : DataFrame
        Targets x roles: raters of each role who answered anything.
    agreement : DataFrame
        Indexed by (role, competency), roles with several raters per target and ``others``:
        ``n_targets``, ``rwg_j`` (mean over targets), ``icc1``, ``icc2`` (Bliese 2000).
    halo : DataFrame
        Indexed by role: ``n_raters``, ``mean_sd`` (mean SD of a rater's competency scores
        across competencies; small = halo), ``mean_r`` (mean correlation between competency
        scores; large = halo).
    organisation : DataFrame
        Competencies x roles (and ``others``): mean competency score over all targets.
    scores : DataFrame
        One row per rating form: target, role, rater and its competency scores.
    threshold : float
        A gap of at least this many rating points flags a blind spot (self above) or hidden
        strength (self below).
    min_raters : int
        Smallest group of raters shown (the anonymity rule).
    self_role : str
    roles : list of str
        Non-self roles in order.
    competencies : list of str
    labels : dict
        Competency, role and item id -> display text.
    scale_range : tuple of float
        Lowest and highest rating code.
    ratings : DataFrame
        Item-level long ratings (target, role, rater, item, competency, rating), non-missing.
    """

    profile: pd.DataFrame
    items: pd.DataFrame
    rater_counts: pd.DataFrame
    agreement: pd.DataFrame
    halo: pd.DataFrame
    organisation: pd.DataFrame
    scores: pd.DataFrame
    threshold: float
    min_raters: int
    self_role: str
    roles: list[str]
    competencies: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    scale_range: tuple[float, float] = (1.0, 5.0)
    ratings: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def targets(self) -> list[Any]:
        return list(self.rater_counts.index)

    def blind_spots(self, target: Any = None) -> pd.DataFrame:
        """Rows of ``profile`` flagged as blind spots (self - others >= threshold)."""
        return self._flagged(BLIND_SPOT, target)

    def hidden_strengths(self, target: Any = None) -> pd.DataFrame:
        """Rows of ``profile`` flagged as hidden strengths (others - self >= threshold)."""
        return self._flagged(HIDDEN_STRENGTH, target)

    def _flagged(self, flag: str, target: Any) -> pd.DataFrame:
        rows = self.profile[self.profile["flag"] == flag]
        return rows if target is None else rows[rows.index.get_level_values("target") == target]

    def team(self, measure: Literal["others", "adjusted"] = "others", *, rater: str = "role") -> pd.DataFrame:
        r"""Targets x competencies for the team heat map.

        Parameters
        ----------
        measure : {"others", "adjusted"}
            ``"others"``: the others' mean rating (NaN where fewer than ``min_raters`` answered).
            ``"adjusted"``: the person measure (EAP, logits) of a rating-scale many-facet
            Rasch model per competency on the others' item ratings, adjusted for the
            severity of each rater facet element (:func:`psychometrics.raters.facets`).
        rater : {"role", "rater"}
            The rater facet of ``"adjusted"``: one severity per role (default; stable when
            every rater rates one target) or per rater.
        """
        if measure == "others":
            return self.profile["others"].unstack("competency")[self.competencies]
        if measure != "adjusted":
            raise ValueError(f"measure must be 'others' or 'adjusted', got {measure!r}")
        if rater not in ("role", "rater"):
            raise ValueError(f"rater must be 'role' or 'rater', got {rater!r}")
        from psychometrics.raters._facets import facets

        others = self.ratings[self.ratings["role"] != self.self_role]
        columns = {}
        for competency in self.competencies:
            part = others[others["competency"] == competency]
            fit = facets(part, person="target", item="item", rater=rater, rating="rating", model="rating_scale",
                         replicates=rater == "role")
            columns[competency] = fit.person_measures["EAP"]
        frame = pd.DataFrame(columns).reindex(self.targets)
        frame.index.name = "target"
        return frame

    def summary(self) -> str:
        n_forms = len(self.scores)
        flags = self.profile["flag"].value_counts()
        lines = [f"360-degree feedback: {len(self.targets)} targets, {n_forms} rating forms, "
                 f"{len(self.competencies)} competencies",
                 f"  blind spots (self - others >= {self.threshold:g}): {int(flags.get(BLIND_SPOT, 0))}; "
                 f"hidden strengths (others - self >= {self.threshold:g}): {int(flags.get(HIDDEN_STRENGTH, 0))}",
                 f"  anonymity: groups of fewer than {self.min_raters} raters are not shown separately",
                 "", "Mean gap self - others per competency"]
        gaps = self.profile["gap"].groupby(level="competency").mean()
        for competency in self.competencies:
            lines.append(f"  {self.labels.get(competency, competency):<28} {gaps.get(competency, math.nan):+.2f}")
        lines += ["", "Halo (mean SD across competencies within a rater; small = halo)"]
        for role, row in self.halo.iterrows():
            lines.append(f"  {self.labels.get(role, role):<28} {row['mean_sd']:.2f}  (r {row['mean_r']:.2f})")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """``profile`` with target and competency as columns."""
        return self.profile.reset_index()


# ------------------------------------------------------------------------------ input

def _inputs(ratings: Any, instrument: Any, scales: Mapping[str, Sequence[str]] | None,
            columns: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]], dict[str, str]]:
    labels: dict[str, str] = {}
    if instrument is not None:
        responses = ratings if isinstance(ratings, Responses) else instrument.prepare(ratings)
        scales = scales or instrument.scale_items()
        labels.update({s.id: s.name for s in instrument.scales})
        labels.update({r.id: r.name for r in instrument.rater_roles})
        labels.update({item.id: item.text for item in instrument.items if getattr(item, "text", None)})
    elif isinstance(ratings, Responses):
        responses = ratings
    elif isinstance(ratings, pd.DataFrame):
        if not scales:
            raise ValueError("feedback: give scales= (competency -> item ids) or instrument=")
        items = [item for group in scales.values() for item in group]
        missing = [item for item in items if item not in ratings.columns]
        if missing:
            raise ResponseError(f"feedback: item {missing[0]!r} of the scales is not a column of the ratings")
        responses = load_responses(ratings[items])
        responses = Responses(responses.frame, responses.categories, ratings[[c for c in columns.values()
                                                                              if c in ratings.columns]])
    else:
        raise TypeError(f"feedback: ratings must be a DataFrame or Responses, got {type(ratings).__name__}")
    if not scales:
        raise ValueError("feedback: give scales= (competency -> item ids) or instrument=")
    meta = responses.metadata
    for argument, name in columns.items():
        if meta is None or name not in meta.columns:
            raise ResponseError(f"feedback: column {name!r} given as {argument}= is not in the ratings "
                                f"(columns: {[] if meta is None else list(meta.columns)})")
    meta = meta[list(columns.values())]
    blank = meta.isna().any(axis=1).to_numpy()
    if blank.any():
        row = int(np.flatnonzero(blank)[0])
        raise ResponseError(f"feedback: rating {meta.index[row]!r} (row {row}) has no target, role or rater")
    duplicated = meta.duplicated([columns["target"], columns["rater"]], keep=False).to_numpy()
    if duplicated.any():
        rows = np.flatnonzero(duplicated)[:2]
        raise ResponseError(f"feedback: rater {meta.iat[rows[0], 2]!r} rates target {meta.iat[rows[0], 0]!r} twice "
                            f"(rows {int(rows[0])} and {int(rows[1])}); keep one form per rater and target")
    scales = {str(k): [str(i) for i in v] for k, v in scales.items()}
    return responses.frame, meta, scales, labels


def feedback(ratings: Any, instrument: Any = None, *, scales: Mapping[str, Sequence[str]] | None = None,
             target: str = "target_id", role: str = "rater_role", rater: str = "rater_id", self_role: str = "self",
             threshold: float = 0.5, min_raters: int = 3, min_answered: int | float | None = None,
             n_options: int | None = None) -> FeedbackResult:
    r"""Self against others per target and competency, agreement within roles, halo, role means.

    Parameters
    ----------
    ratings : DataFrame, path or Responses
        One row per rating form: item columns plus the target, role and rater columns.
    instrument : Instrument, optional
        A multi-rater instrument (e.g. ``Instrument.bundled("feedback-360")``): prepares the
        data (missing codes such as "not able to observe", reverse keying) and gives the
        competencies, labels, number of options and ``min_answered``.
    scales : mapping, optional
        Competency -> item ids (default: the instrument's scales).
    target, role, rater : str
        Column names of the target id, rater role and rater id; with an instrument, the
        defaults are the columns it declares with those roles.
    self_role : str
        The role of self-ratings (at most one per target).
    threshold : float
        Blind spot: self - others >= ``threshold``; hidden strength: others - self >=
        ``threshold`` (rating points, default 0.5 on the form's scale).
    min_raters : int
        Smallest group of raters whose ratings are shown (at least 3); see the anonymity rule
        in the module docstring.
    min_answered : int or float, optional
        Fewest answered items for a competency score (count or share, as in
        :func:`psychometrics.ctt.scale_scores`); default the instrument's, else 1.
    n_options : int, optional
        Response options per item, for :math:`r_{wg(J)}`'s uniform null; default from the
        instrument. Without either, agreement is not computed (``rwg_j`` is NaN).

    Returns
    -------
    FeedbackResult

    Notes
    -----
    For target :math:`t`, competency :math:`c` and the set :math:`O` of its non-self raters
    with a score :math:`y_{rc}` (mean of the answered items),

    .. math:: \text{others}_{tc} = \frac{1}{|O|} \sum_{r \in O} y_{rc}, \qquad
              \text{gap}_{tc} = y_{\text{self},c} - \text{others}_{tc}.

    The halo index of a role is the mean over its raters of the SD of the rater's
    competency scores (Saal, Downey & Lahey 1980: little spread across dimensions suggests
    a general impression), shown with the mean correlation between competency scores.

    References
    ----------
    .. [1] Fleenor, J. W., Smither, J. W., Atwater, L. E., Braddy, P. W. & Sturm, R. E. (2010).
           Self-other rating agreement in leadership: A review. The Leadership Quarterly, 21,
           1005-1034.
    .. [2] Saal, F. E., Downey, R. G. & Lahey, M. A. (1980). Rating the ratings: Assessing the
           psychometric quality of rating data. Psychological Bulletin, 88(2), 413-428.
    .. [3] LeBreton, J. M. & Senter, J. L. (2008). Answers to 20 questions about interrater
           reliability and interrater agreement. Organizational Research Methods, 11(4), 815-852.

    Examples
    --------
    >>> from psychometrics import Instrument
    >>> from psychometrics.instrument import bundled_sample
    >>> result = feedback(bundled_sample("feedback-360"), Instrument.bundled("feedback-360"))
    >>> row = result.profile.loc[("t0001", "problem_solving")]
    >>> round(float(row["self"]), 2), round(float(row["others"]), 2), row["flag"], int(row["n_others"])
    (4.2, 3.14, 'blind spot', 7)
    """
    if int(min_raters) != min_raters or min_raters < 3:
        raise ValueError(f"min_raters must be an integer of at least 3 (the anonymity rule), got {min_raters!r}")
    if not (isinstance(threshold, (int, float)) and threshold > 0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a positive number of rating points, got {threshold!r}")
    from psychometrics.ctt import scale_scores

    if instrument is not None:
        # the instrument names its own target, role and rater columns; explicit arguments win
        declared = {column.role: column.name for column in instrument.data_columns}
        target = declared.get("target_id", target) if target == "target_id" else target
        role = declared.get("rater_role", role) if role == "rater_role" else role
        rater = declared.get("rater_id", rater) if rater == "rater_id" else rater
    columns = {"target": target, "role": role, "rater": rater}
    frame, meta, scales, labels = _inputs(ratings, instrument, scales, columns)
    if min_answered is None:
        min_answered = instrument.scoring.min_answered if instrument is not None else 1
    if n_options is None and instrument is not None:
        first = instrument.response_format(scales[next(iter(scales))][0])
        n_options = len(getattr(first, "options", []) or []) or None
    values = frame.to_numpy(dtype=np.float64)
    observed = values[np.isfinite(values)]
    if observed.size == 0:
        raise ResponseError("feedback: every rating is missing")
    if instrument is not None:
        codes = [c for items in scales.values() for c in instrument.item_specs()[items[0]].categories]
        scale_range = (float(min(codes)), float(max(codes)))
    else:
        scale_range = (float(observed.min()), float(observed.max()))

    meta = meta.rename(columns={target: "target", role: "role", rater: "rater"})
    selfs = meta[meta["role"] == self_role]
    twice = selfs["target"].duplicated(keep=False).to_numpy()
    if twice.any():
        raise ResponseError(f"feedback: target {selfs['target'].iat[int(np.flatnonzero(twice)[0])]!r} has more than "
                            f"one self-rating (role {self_role!r}); keep one")
    order = list(dict.fromkeys([r.id for r in instrument.rater_roles] if instrument is not None else []))
    order += [r for r in dict.fromkeys(meta["role"]) if r not in order]   # else: as they first appear
    roles = [r for r in order if r != self_role and r in set(meta["role"])]

    scores = scale_scores(frame, scales, method="mean", min_answered=min_answered)
    competencies = list(scales)
    scores_frame = pd.concat([meta, scores], axis=1)
    long = scores_frame.melt(id_vars=["target", "role", "rater"], value_vars=competencies, var_name="competency",
                             value_name="score").dropna(subset=["score"])
    is_self = long["role"] == self_role

    keys = ["target", "competency"]
    self_scores = long[is_self].set_index(keys)["score"].rename("self")
    others = long[~is_self].groupby(keys)["score"].agg(["mean", "count"])
    by_role = long[~is_self].groupby(keys + ["role"])["score"].agg(["mean", "count"])
    targets = list(dict.fromkeys(meta["target"]))
    index = pd.MultiIndex.from_product([targets, competencies], names=keys)
    profile = pd.DataFrame(index=index)
    profile["self"] = self_scores.reindex(index)
    n_others = others["count"].reindex(index).fillna(0).astype(int)
    profile["others"] = others["mean"].reindex(index).where(n_others >= min_raters)
    profile["gap"] = profile["self"] - profile["others"]
    gap = profile["gap"].to_numpy()
    with np.errstate(invalid="ignore"):
        profile["flag"] = np.where(gap >= threshold - 1e-12, BLIND_SPOT,
                                   np.where(gap <= -threshold + 1e-12, HIDDEN_STRENGTH, ""))
    profile["rwg_j"] = _others_rwg(frame, meta, scales, self_role, n_options, index)
    profile["rwg_j"] = profile["rwg_j"].where(n_others >= min_raters)
    profile["n_others"] = n_others
    counts = by_role["count"].unstack("role").reindex(index).reindex(columns=roles).fillna(0).astype(int)
    means = by_role["mean"].unstack("role").reindex(index).reindex(columns=roles)
    shown = np.zeros(counts.shape, dtype=bool)
    for row, numbers in enumerate(counts.to_numpy()):
        visible = visible_roles(dict(zip(roles, (int(n) for n in numbers))), min_raters)
        shown[row] = [r in visible for r in roles]
    for j, r in enumerate(roles):
        profile[r] = means[r].where(shown[:, j])
    for r in roles:
        profile[f"n_{r}"] = counts[r]

    item_table, item_long = _items(frame, meta, scales, self_role, min_raters)
    answered = scores_frame[competencies].notna().any(axis=1) | frame.notna().any(axis=1)
    rater_counts = (meta[answered.to_numpy()].groupby(["target", "role"]).size().unstack("role")
                    .reindex(index=targets, columns=[self_role] + roles).fillna(0).astype(int))
    rater_counts.index.name = "target"

    organisation = long[~is_self].groupby(["competency", "role"])["score"].mean().unstack("role")
    organisation = organisation.reindex(index=competencies, columns=roles)
    organisation.insert(0, _OTHERS, long[~is_self].groupby("competency")["score"].mean().reindex(competencies))
    organisation.insert(0, self_role, long[is_self].groupby("competency")["score"].mean().reindex(competencies))

    return FeedbackResult(
        profile=profile, items=item_table, rater_counts=rater_counts,
        agreement=_agreement(frame, meta, long, scales, roles, self_role, n_options),
        halo=_halo(scores_frame, competencies, [self_role] + roles), organisation=organisation,
        scores=scores_frame, threshold=float(threshold), min_raters=int(min_raters), self_role=self_role,
        roles=roles, competencies=competencies, labels=labels, scale_range=scale_range, ratings=item_long)


def _items(frame, meta, scales, self_role, min_raters):
    competency_of = {item: c for c, items in scales.items() for item in items}
    items = list(competency_of)
    long = pd.concat([meta, frame[items]], axis=1).melt(id_vars=["target", "role", "rater"], value_vars=items,
                                                        var_name="item", value_name="rating").dropna(subset=["rating"])
    long["competency"] = long["item"].map(competency_of)
    is_self = long["role"] == self_role
    keys = ["target", "item"]
    others = long[~is_self].groupby(keys)["rating"].agg(["mean", "count"])
    index = pd.MultiIndex.from_product([list(dict.fromkeys(meta["target"])), items], names=keys)
    table = pd.DataFrame(index=index)
    table["competency"] = [competency_of[i] for i in index.get_level_values("item")]
    table["self"] = long[is_self].set_index(keys)["rating"].reindex(index)
    n = others["count"].reindex(index).fillna(0).astype(int)
    table["others"] = others["mean"].reindex(index).where(n >= min_raters)
    table["gap"] = table["self"] - table["others"]
    table["n_others"] = n
    return table, long.reset_index(drop=True)


def _others_rwg(frame, meta, scales, self_role, n_options, index) -> pd.Series:
    from psychometrics.agreement import rwg_j

    out = pd.Series(np.nan, index=index)
    if n_options is None:
        return out
    others = meta["role"] != self_role
    data = frame[others.to_numpy()].assign(_target=meta.loc[others, "target"].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # groups of one rater: NaN, said by the anonymity rule already
        for competency, items in scales.items():
            if len(items) < 2:
                continue
            values = rwg_j(data, n_options, group="_target", items=items)["rwg_j"]
            keys = pd.MultiIndex.from_arrays([values.index, [competency] * len(values)])
            out.loc[keys] = values.to_numpy()
    return out


def _agreement(frame, meta, long, scales, roles, self_role, n_options) -> pd.DataFrame:
    from psychometrics.agreement import icc_aggregation, rwg_j

    rows = []
    groups = [(r, meta["role"] == r) for r in roles] + [(_OTHERS, meta["role"] != self_role)]
    for name, mask in groups:
        mask = mask.to_numpy()
        sizes = meta[mask].groupby("target").size()
        if len(sizes) < 2 or sizes.max() < 2:
            continue  # one rater per target (a manager): agreement within the role is undefined
        part = frame[mask].assign(_target=meta.loc[mask, "target"].to_numpy())
        scores = long[long["role"].isin(roles if name == _OTHERS else [name])]
        for competency, items in scales.items():
            row = {"role": name, "competency": competency, "n_targets": int((sizes >= 2).sum()),
                   "rwg_j": math.nan, "icc1": math.nan, "icc2": math.nan}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if n_options is not None and len(items) >= 2:
                    row["rwg_j"] = float(rwg_j(part, n_options, group="_target", items=items)["rwg_j"].mean())
                subset = scores[scores["competency"] == competency]
                try:
                    icc = icc_aggregation(subset, group="target", value="score")
                    row["icc1"], row["icc2"] = icc.icc1, icc.icc2
                except (ResponseError, ValueError, ArithmeticError):
                    pass  # too few ratings for the ANOVA: left NaN
            rows.append(row)
    columns = ["role", "competency", "n_targets", "rwg_j", "icc1", "icc2"]
    return pd.DataFrame(rows, columns=columns).set_index(["role", "competency"])


def _halo(scores_frame, competencies, roles) -> pd.DataFrame:
    rows = {}
    for r in roles:
        block = scores_frame.loc[scores_frame["role"] == r, competencies]
        complete = block.dropna()
        if complete.empty:
            continue
        corr = complete.corr().to_numpy() if len(complete) > 2 else np.full((len(competencies),) * 2, np.nan)
        off = corr[~np.eye(len(competencies), dtype=bool)]
        rows[r] = {"n_raters": len(complete), "mean_sd": float(complete.std(axis=1, ddof=1).mean()),
                   "mean_r": float(np.nanmean(off)) if np.isfinite(off).any() else math.nan}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["n_raters", "mean_sd", "mean_r"])
    frame.index.name = "role"
    return frame
