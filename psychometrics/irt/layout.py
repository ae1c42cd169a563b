"""The parameter layout of a calibration: every parameter free, shared or fixed, and where it sits.

The estimate vector of a calibration packs the free item parameters block by block (items with
one model and one number of categories), then the latent means and variances. One *slot* of that
vector may stand for several parameters: the 1PL slope common to all items of a block, the
rating-scale thresholds, an item's parameter equal across groups. A parameter without a slot is
fixed: by the model (the Rasch slope), for identification (the first rating-scale item's ``c``)
or by the user (anchor items held at bank values).

:func:`assign_slots` numbers the slots of one block; the M-step (:class:`psychometrics.irt.mstep._Block`)
and :meth:`ParameterLayout.stated` both use it, and a :class:`~psychometrics.irt.Calibration`
carries the resulting :class:`ParameterLayout`, so that ``n_parameters``, the degrees of freedom
of every fit statistic, the standard errors and the JSON document read one count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psychometrics.items import get_model

__all__ = ["ParameterLayout", "assign_slots"]

#: ``(item, parameter, group)``; group ``"*"`` stands for every group (or the only one), item
#: ``"latent"`` for the latent distribution (parameter ``mean`` or ``variance``).
Entry = tuple[str, str, Any]

ALL_GROUPS = "*"
LATENT = "latent"


def assign_slots(fixed: np.ndarray, tied: Iterable[int], first_slot: int,
                 share: np.ndarray | None = None) -> np.ndarray:
    """Slots of one block's parameters in the estimate vector, -1 where fixed.

    Parameters
    ----------
    fixed : ndarray of bool (n_rows, P)
        Parameters held fixed.
    tied : iterable of int
        Columns whose free rows share one slot (one value across the block).
    first_slot : int
        The block's first slot.
    share : ndarray of int (n_rows, P), optional
        Rows that are copies of one item in several groups: rows with the same key
        (>= 0) in a column share a slot; key -1 = the parameter is freed across groups.

    Returns
    -------
    ndarray of int64 (n_rows, P)
    """
    slot = np.full(fixed.shape, -1, dtype=np.int64)
    tied = set(tied)
    n = first_slot
    for col in range(fixed.shape[1]):
        free_rows = np.flatnonzero(~fixed[:, col])
        if col in tied:
            if free_rows.size:
                slot[free_rows, col] = n
                n += 1
        elif share is not None:
            seen: dict[int, int] = {}
            for r in free_rows:
                key = int(share[r, col])
                if key >= 0 and key in seen:
                    slot[r, col] = seen[key]
                    continue
                slot[r, col] = n
                if key >= 0:
                    seen[key] = n
                n += 1
        else:
            slot[free_rows, col] = n + np.arange(free_rows.size)
            n += free_rows.size
    return slot


@dataclass(frozen=True)
class ParameterLayout:
    """Which parameters a calibration estimated, and where each sits in its estimate vector.

    Attributes
    ----------
    slots : tuple of tuple of Entry
        For every position of the estimate vector, the ``(item, parameter, group)`` entries it
        stands for: one entry for a free parameter, several for a shared one.
    fixed : tuple of (item, parameter)
        Parameters held at a value (by the model, for identification, or anchors).
    """

    slots: tuple[tuple[Entry, ...], ...]
    fixed: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return (f"ParameterLayout({self.n_parameters} parameters: {self.n_item_parameters} item, "
                f"{self.n_parameters - self.n_item_parameters} latent; {len(self.fixed)} fixed)")

    # -- counts ----------------------------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        """Length of the estimate vector: free parameters, a shared one counted once."""
        return len(self.slots)

    @property
    def n_item_parameters(self) -> int:
        return sum(1 for entries in self.slots if entries[0][0] != LATENT)

    @property
    def latent(self) -> list[tuple[int, str, Any]]:
        """``(slot, "mean" | "variance", group)`` of the estimated latent parameters."""
        return [(s, e[0][1], e[0][2]) for s, e in enumerate(self.slots) if e[0][0] == LATENT]

    def slot_of(self, item: str, parameter: str, group: Any = ALL_GROUPS) -> int:
        """The slot of a parameter (-1 when fixed); a parameter common to all groups is found
        under any group."""
        index = self._index
        hit = index.get((item, parameter, group))
        if hit is None and group != ALL_GROUPS:
            hit = index.get((item, parameter, ALL_GROUPS))
        return -1 if hit is None else hit

    @property
    def _index(self) -> dict[Entry, int]:
        cached = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {entry: s for s, entries in enumerate(self.slots) for entry in entries}
            object.__setattr__(self, "_index_cache", cached)
        return cached

    def status(self, item: str, parameter: str, group: Any = ALL_GROUPS) -> str:
        """``"free"``, ``"shared"`` (one slot with other items or groups) or ``"fixed"``."""
        s = self.slot_of(item, parameter, group)
        if s < 0:
            return "fixed"
        return "shared" if len(self.slots[s]) > 1 else "free"

    def own(self, item_ids: Sequence[str]) -> np.ndarray:
        """(n_items,) free parameters that belong to one item alone (shared ones excluded):
        what an item-level fit statistic's degrees of freedom lose."""
        position = {item: j for j, item in enumerate(item_ids)}
        out = np.zeros(len(item_ids), dtype=np.int64)
        for entries in self.slots:
            items = {e[0] for e in entries}
            if len(items) == 1:
                j = position.get(next(iter(items)))
                if j is not None:
                    out[j] += 1
        return out

    # -- restriction -----------------------------------------------------------------------------
    def for_group(self, group: Any) -> "ParameterLayout":
        """The layout seen from one group of a multi-group calibration: the slots that group's
        parameters use, its latent parameters; entries relabelled as the only group."""
        slots = []
        for entries in self.slots:
            mine = tuple((i, p, ALL_GROUPS) for i, p, g in entries if g in (group, ALL_GROUPS))
            if mine:
                slots.append(tuple(dict.fromkeys(mine)))
        return ParameterLayout(tuple(slots), self.fixed)

    # -- presentation and persistence ------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per (item, parameter, group): its status and slot (-1 when fixed)."""
        rows = [(i, p, g, "shared" if len(entries) > 1 else "free", s)
                for s, entries in enumerate(self.slots) for i, p, g in entries]
        rows += [(i, p, ALL_GROUPS, "fixed", -1) for i, p in self.fixed]
        return pd.DataFrame(rows, columns=["item", "parameter", "group", "status", "slot"])

    def summary(self) -> str:
        counts = self.to_frame()["status"].value_counts()
        return (f"{self.n_parameters} estimated parameters ({self.n_item_parameters} item, "
                f"{self.n_parameters - self.n_item_parameters} latent); "
                + ", ".join(f"{int(counts.get(k, 0))} {k}" for k in ("free", "shared", "fixed")))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (group labels as strings)."""
        return {"slots": [[[i, p, str(g)] for i, p, g in entries] for entries in self.slots],
                "fixed": [[i, p] for i, p in self.fixed]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ParameterLayout":
        return cls(tuple(tuple((str(i), str(p), g) for i, p, g in entries) for entries in data["slots"]),
                   tuple((str(i), str(p)) for i, p in data.get("fixed", ())))

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_blocks(cls, blocks: Sequence[Any], column_labels: Sequence[tuple[str, Any]],
                    latent_slots: Sequence[tuple[Any, str]], n_item_slots: int) -> "ParameterLayout":
        """The layout of an estimation: ``blocks`` with ``model, k, positions, slot`` (the
        M-step's), ``column_labels`` (item, group) of every estimation column and the latent
        ``(group label, kind)`` that follow the ``n_item_slots`` item slots."""
        entries: list[list[Entry]] = [[] for _ in range(n_item_slots)]
        fixed: dict[tuple[str, str], None] = {}
        for b in blocks:
            names = b.model.parameter_names(b.k)
            for r, column in enumerate(b.positions):
                item, group = column_labels[column]
                for c, name in enumerate(names):
                    s = int(b.slot[r, c])
                    if s < 0:
                        fixed.setdefault((item, name), None)
                    else:
                        entries[s].append((item, name, group))
        slots = [tuple(_common_to_groups(e)) for e in entries]
        slots += [((LATENT, kind, group),) for group, kind in latent_slots]
        return cls(tuple(slots), tuple(fixed))

    @classmethod
    def stated(cls, item_ids: Sequence[str], models: Mapping[str, str],
               n_categories: Sequence[int]) -> "ParameterLayout":
        """The layout the models imply for items calibrated elsewhere (stated parameters, an
        older document): every parameter the model does not fix is free, tied ones shared; the
        latent variance is estimated where every item fixes its slope (rasch, pcm, rsm)."""
        keys: dict[tuple[str, int], list[int]] = {}
        for j, item in enumerate(item_ids):
            keys.setdefault((str(models[item]), int(n_categories[j])), []).append(j)
        blocks = []
        first = 0
        for (name, k), positions in keys.items():
            model = get_model(name)
            names = model.parameter_names(k)
            tied = [names.index(t) for t in model.tied_names(k)]
            slot = assign_slots(model.block_fixed(k, len(positions)), tied, first)
            first = max(first, int(slot.max()) + 1)
            blocks.append(_StatedBlock(model, k, np.asarray(positions), slot))
        latent = ([(ALL_GROUPS, "variance")]
                  if item_ids and all(get_model(str(models[i])).estimates_latent_variance for i in item_ids) else [])
        labels = [(str(item), ALL_GROUPS) for item in item_ids]
        return cls.from_blocks(blocks, labels, latent, first)


@dataclass(frozen=True)
class _StatedBlock:
    model: Any
    k: int
    positions: np.ndarray
    slot: np.ndarray


def _common_to_groups(entries: list[Entry]) -> list[Entry]:
    # one item's parameter held equal in several groups is that item's parameter in all groups
    by_parameter: dict[tuple[str, str], list[Any]] = {}
    for item, name, group in entries:
        by_parameter.setdefault((item, name), []).append(group)
    out = []
    for (item, name), groups in by_parameter.items():
        if len(groups) > 1 or groups == [ALL_GROUPS]:
            out.append((item, name, ALL_GROUPS))
        else:
            out.append((item, name, groups[0]))
    return out
