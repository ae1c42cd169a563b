"""Item response models, one family per module, registered by mirt's model names.

``MODELS`` maps each name (``"rasch"``, ``"1pl"``, ``"2pl"``, ``"3pl"``, ``"4pl"``, ``"graded"``,
``"gpcm"``, ``"pcm"``, ``"rsm"``, ``"nominal"``) to one :class:`~psychometrics.items.base.ItemModel`
instance; :func:`get_model` looks a name up. Every concrete ``ItemModel`` subclass with a ``name``
defined in a family module is registered, so a new family only needs its module imported here.
"""

from __future__ import annotations

# the family modules register their models by subclassing ItemModel
from psychometrics.items import dichotomous, graded, nominal, partial_credit  # noqa: F401
from psychometrics.items.base import ItemModel

__all__ = ["ItemModel", "MODELS", "get_model"]

def _discover() -> dict[str, ItemModel]:
    found: dict[str, ItemModel] = {}
    pending = list(ItemModel.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        name = cls.__dict__.get("name")
        if isinstance(name, str) and not getattr(cls, "__abstractmethods__", None):
            found[name] = cls()
    return dict(sorted(found.items()))


MODELS: dict[str, ItemModel] = _discover()


def get_model(name: str) -> ItemModel:
    """The registered :class:`ItemModel` for ``name`` (case-insensitive).

    Raises
    ------
    ValueError
        When no model of that name is registered; the message lists the known names.
    """
    key = str(name).lower()
    if key not in MODELS:
        raise ValueError(f"unknown item model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[key]
