r"""Simulate item responses from calibrated or stated item parameters.

Each person's latent value is drawn from :math:`N(\mu, \sigma^2)` (or given), each response by
inverse-CDF sampling: with cumulative category probabilities :math:`C_k = \sum_{h \le k} P_h`
and :math:`U \sim U(0, 1)`, the category is the number of :math:`C_k` below :math:`U`. Missing
responses are placed completely at random (a rate) or by a given mask.

Examples
--------
>>> import pandas as pd
>>> params = pd.DataFrame({"a": [1.0, 1.5], "b": [-0.5, 0.5]}, index=["q1", "q2"])
>>> simulate(params, 3, model="2pl", seed=1).shape
(3, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["simulate"]

_CHUNK = 65536


def simulate(calibration_or_item_params: Any, n_persons: int, *,
             model: str | Mapping[str, str] | None = None, theta: Any = None,
             latent_mean: float = 0.0, latent_sd: float = 1.0,
             missing: float | np.ndarray | pd.DataFrame = 0.0,
             seed: int | np.random.Generator | None = None,
             categories: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Simulated responses, persons x items.

    Parameters
    ----------
    calibration_or_item_params : Calibration or DataFrame
        A :class:`~psychometrics.irt.Calibration`, or item parameters in IRT form (indexed by
        item id, as :attr:`Calibration.item_params`) together with ``model``.
    n_persons : int
        Number of simulated persons.
    model : str or mapping, optional
        Model name (or item -> model) when item parameters are given.
    theta : array-like (n_persons,), optional
        Latent values to use instead of random draws.
    latent_mean, latent_sd : float
        Of the normal latent distribution the persons are drawn from.
    missing : float or boolean array (n_persons, n_items)
        Rate of responses missing completely at random, or a mask (True = missing).
    seed : int or Generator, optional
        Seed for reproducible output.
    categories : mapping, optional
        Item -> response codes when item parameters are given (default 0..K-1).

    Returns
    -------
    DataFrame
        float64 response codes (NaN for missing), index ``p000001, p000002, ...`` (named
        ``person``), one column per item.
    """
    from psychometrics.irt import Calibration  # simulation sits above calibration

    if isinstance(calibration_or_item_params, Calibration):
        calibration = calibration_or_item_params
    elif isinstance(calibration_or_item_params, pd.DataFrame):
        if model is None:
            raise ValueError("item parameters need a model (a name or a mapping item -> model)")
        calibration = Calibration.from_item_params(calibration_or_item_params, model, categories=categories)
    else:
        raise TypeError("expected a Calibration or a DataFrame of item parameters, got "
                        f"{type(calibration_or_item_params).__name__}")
    if int(n_persons) != n_persons or n_persons < 1:
        raise ValueError(f"n_persons must be a positive integer, got {n_persons!r}")
    n_persons = int(n_persons)
    if not latent_sd > 0:
        raise ValueError(f"latent_sd must be positive, got {latent_sd}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if theta is None:
        theta = rng.normal(latent_mean, latent_sd, size=n_persons)
    else:
        theta = np.asarray(theta, dtype=np.float64).reshape(-1)
        if theta.shape[0] != n_persons:
            raise ValueError(f"theta has {theta.shape[0]} values for {n_persons} persons")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta must be finite")
    n_items = calibration.n_items
    mask = _missing_mask(missing, n_persons, n_items, rng)

    codes = np.empty((n_persons, n_items))
    tables = [np.asarray(calibration.categories[i], dtype=np.float64) for i in calibration.item_ids]
    n_cat = calibration.n_categories
    for start in range(0, n_persons, _CHUNK):
        th = theta[start:start + _CHUNK]
        prob = calibration.probabilities(th)                # (items, persons, K)
        cum = np.cumsum(prob, axis=2)
        u = rng.random((n_items, th.shape[0], 1))
        # count of cumulative probabilities below u, capped so rounding in the last sum
        # cannot produce a category the item lacks
        index = np.minimum((cum < u).sum(axis=2), (n_cat - 1)[:, None])
        for j in range(n_items):
            codes[start:start + th.shape[0], j] = tables[j][index[j]]
    codes[mask] = np.nan
    width = max(6, len(str(n_persons)))
    index = pd.Index([f"p{i:0{width}d}" for i in range(1, n_persons + 1)], name="person")
    return pd.DataFrame(codes, index=index, columns=list(calibration.item_ids))


def _missing_mask(missing: Any, n_persons: int, n_items: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(missing, (pd.DataFrame, np.ndarray)):
        mask = np.asarray(missing)
        if mask.shape != (n_persons, n_items):
            raise ValueError(f"missing mask has shape {mask.shape}, expected ({n_persons}, {n_items})")
        if mask.dtype != bool:
            raise ValueError("missing mask must be boolean (True = missing)")
        return mask
    rate = float(missing)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"missing rate must be in [0, 1), got {missing!r}")
    if rate == 0.0:
        return np.zeros((n_persons, n_items), dtype=bool)
    return rng.random((n_persons, n_items)) < rate
