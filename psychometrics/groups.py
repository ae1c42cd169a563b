"""Group labels of persons, checked once for every verb that compares groups.

Multi-group calibration (:func:`psychometrics.irt.calibrate`), DIF (:mod:`psychometrics.dif`)
and the fairness summaries (:mod:`psychometrics.fairness`) all resolve their ``group=`` and
``reference=`` arguments here, so they agree on what a level is and which group is the
reference:

- the levels are a categorical's categories that occur, in category order; otherwise the
  sorted distinct labels (labels of mixed types are compared as text);
- the **default reference group is the largest group**; a tie goes to the first level;
- one minimum group size, :data:`MIN_GROUP_SIZE`, is the default ``min_group_size`` of
  multi-group calibration and DIF, where a smaller group is an error naming it and its size,
  and the threshold below which the fairness summaries warn (their statistics still exist
  for small groups, e.g. Fisher's exact test).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.data import format_label
from psychometrics.errors import ResponseError

__all__ = ["GroupSpec", "MIN_GROUP_SIZE", "resolve_groups"]

#: Fewest persons a compared group should have: 50. Below it a group's latent mean and
#: variance in multi-group calibration rest on too little data, most Mantel-Haenszel score
#: strata are empty and the logistic DIF fits are unstable (about 50 per group is where
#: Type I error of MH and logistic DIF comes close to nominal in simulation studies, and
#: calibration needs at least that). One value, so that a group accepted by calibration is
#: accepted by DIF and does not trigger the fairness warning.
MIN_GROUP_SIZE = 50


@dataclass(frozen=True)
class GroupSpec:
    """Checked group membership.

    Attributes
    ----------
    codes : ndarray of int (n_persons,)
        Index into ``labels`` for each person.
    labels : list
        The levels (see the module notes for their order).
    reference : int
        Index of the reference group in ``labels``.
    focal : list of int
        Indices of the focal groups, each compared with the reference.
    """

    codes: np.ndarray
    labels: list[Any]
    reference: int
    focal: list[int]

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=len(self.labels))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{format_label(g)}: {n}" for g, n in zip(self.labels, self.sizes))
        return f"GroupSpec(reference {format_label(self.labels[self.reference])}; {sizes})"


def _levels(labels: Any) -> tuple[list[Any], np.ndarray]:
    categorical = isinstance(labels, pd.Categorical) or (
        isinstance(labels, pd.Series) and isinstance(labels.dtype, pd.CategoricalDtype))
    if categorical:
        cat = pd.Categorical(labels)
        present = np.bincount(cat.codes[cat.codes >= 0], minlength=len(cat.categories)) > 0
        remap = np.cumsum(present) - 1
        names = [c for c, p in zip(cat.categories, present) if p]
        return [n.item() if isinstance(n, np.generic) else n for n in names], remap[cat.codes]
    values = np.asarray(labels, dtype=object)
    try:
        uniques, codes = np.unique(values, return_inverse=True)
    except TypeError:  # labels of mixed types do not sort; compare them as text
        uniques, codes = np.unique(values.astype(str), return_inverse=True)
    return [u.item() if isinstance(u, np.generic) else u for u in uniques], codes.reshape(-1)


def refuse_missing_labels(labels: Any, person_ids: Sequence[Any] | pd.Index) -> None:
    """Raise ResponseError naming the first respondents (id and row) whose group label is missing."""
    missing = np.asarray(pd.isna(np.asarray(labels, dtype=object)), dtype=bool).reshape(-1)
    if missing.any():
        rows = np.flatnonzero(missing)
        ids = np.asarray(person_ids, dtype=object)
        shown = ", ".join(f"respondent {format_label(ids[r])} (row {r})" for r in rows[:5])
        more = f" and {rows.size - 5} more" if rows.size > 5 else ""
        verb = "has" if rows.size == 1 else "have"
        raise ResponseError(f"group label is missing for {rows.size} person(s): {shown}{more} {verb} no group "
                            "label; drop them or give them a group")


def label_position(label: Any, names: Sequence[Any]) -> int | None:
    """Position of ``label`` among the group ``names`` (equal, or equal as text: a label read
    back from JSON or typed on a command line is text), None when it is not one of them."""
    for position, name in enumerate(names):
        if name == label or str(name) == str(label):
            return position
    return None


def label_positions(labels: Any, person_ids: Sequence[Any] | pd.Index, names: Sequence[Any]) -> np.ndarray:
    """Each person's position among the known group ``names`` (a multi-group calibration's
    groups), as int (persons,).

    Raises
    ------
    ResponseError
        A missing label (naming the respondents), or a label that is not one of ``names``
        (naming it and the first respondent and row with it).
    """
    refuse_missing_labels(labels, person_ids)
    inverse, levels = pd.factorize(np.asarray(labels, dtype=object).reshape(-1))
    # one look-up per distinct label, not per person
    position = np.array([-1 if (g := label_position(level, names)) is None else g for level in levels],
                        dtype=np.int64)
    unknown = np.flatnonzero(position < 0)
    if unknown.size:
        row = int(np.flatnonzero(np.isin(inverse, unknown))[0])
        ids = np.asarray(person_ids, dtype=object)
        raise ResponseError(f"group {', '.join(format_label(levels[u]) for u in unknown)} "
                            f"(first: respondent {format_label(ids[row])}, row {row}) is not one of the "
                            f"calibration's groups ({', '.join(format_label(n) for n in names)})")
    return position[inverse]


def resolve_groups(labels: Any, person_ids: Sequence[Any] | pd.Index, *, focal: Any = None,
                   reference: Any = None, min_group_size: int = 0,
                   what: str = "a group comparison") -> GroupSpec:
    """Check group labels and pick the reference and focal groups.

    Parameters
    ----------
    labels : array-like, Categorical or Series (n_persons,)
        Group label of each person, in the persons' order; missing labels are an error.
    person_ids : sequence
        Respondent ids, for error messages.
    focal : label or list of labels, optional
        Groups compared with the reference (default: every other group).
    reference : label, optional
        Reference group (default: the largest group; a tie goes to the first level).
    min_group_size : int
        Smallest admissible size of the reference and each focal group (0: no check).
    what : str
        The comparison, for the message when there is only one group.

    Raises
    ------
    ResponseError
        Missing labels (naming the respondents), a single group, an unknown reference or
        focal label, or a compared group smaller than ``min_group_size``.
    """
    refuse_missing_labels(labels, person_ids)
    names, codes = _levels(labels)
    if len(names) < 2:
        only = format_label(names[0]) if names else "none"
        raise ResponseError(f"{what} needs at least two groups, but every person is in group {only} "
                            "(the group has one level)")
    sizes = np.bincount(codes, minlength=len(names))

    def find(label: Any, role: str) -> int:
        position = label_position(label, names)
        if position is not None:
            return position
        raise ResponseError(f"{role} group {format_label(label)} does not occur in the group labels "
                            f"({', '.join(format_label(n) for n in names)})")

    # argmax returns the first maximum: a tie goes to the first level
    ref = int(np.argmax(sizes)) if reference is None else find(reference, "reference")
    if focal is None:
        foc = [g for g in range(len(names)) if g != ref]
    else:
        wanted = list(focal) if isinstance(focal, (list, tuple, set, np.ndarray, pd.Index)) else [focal]
        foc = []
        for label in wanted:
            g = find(label, "focal")
            if g == ref:
                raise ResponseError(f"group {format_label(names[g])} is both the reference and a focal group")
            if g not in foc:
                foc.append(g)
        if not foc:
            raise ResponseError("no focal group given")
    for g in [ref, *foc]:
        if sizes[g] < min_group_size:
            role = "reference" if g == ref else "focal"
            raise ResponseError(f"{role} group {format_label(names[g])} has {sizes[g]} persons; each "
                                f"compared group needs at least {min_group_size} (min_group_size)")
    return GroupSpec(codes=np.asarray(codes, dtype=np.intp), labels=names, reference=ref, focal=foc)
