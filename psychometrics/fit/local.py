r"""Local dependence: Yen's Q3 (raw and mean-adjusted) and Chen-Thissen's LD-X2."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from psychometrics._blas import one_blas_thread
from psychometrics._numeric import TINY
from psychometrics.fit._common import (
    PERSON_CHUNK,
    category_scores,
    check_method,
    encode,
    grid,
    person_theta,
    probabilities,
)

__all__ = ["q3", "ld_x2"]


def _pairwise_correlation(values: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlations of the columns over the rows where both are observed, and the
    numbers of those rows; NaN where fewer than 3 rows or a constant column."""
    mask = observed.astype(np.float64)
    x = np.where(observed, values, 0.0)
    n = mask.T @ mask
    sums = x.T @ mask                        # [j, k]: sum of x_j over rows observing j and k
    squares = (x * x).T @ mask
    cross = x.T @ x
    safe_n = np.where(n > 0, n, 1.0)
    cov = cross - sums * sums.T / safe_n
    var = squares - sums ** 2 / safe_n
    denominator = var * var.T
    ok = (n >= 3) & (denominator > 1e-24)
    r = np.where(ok, cov / np.sqrt(np.where(ok, denominator, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0), n


@one_blas_thread
def q3(calibration: Any, responses: Any, *, adjusted: bool = False, theta: Any = None,
       method: str = "eap") -> pd.DataFrame:
    r"""Yen's Q3: correlations between the item residuals of every pair of items.

    Parameters
    ----------
    calibration : Calibration
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN = missing (each pair uses the persons who answered both).
    adjusted : bool
        Return the mean-adjusted :math:`Q_3^* = Q_3 - \bar Q_3` (Marais, 2013), where
        :math:`\bar Q_3` is the mean of all off-diagonal values; its diagonal is NaN.
    theta : array-like or Series, optional
        Person estimates; scored with ``method`` when omitted.
    method : {"eap", "map", "ml", "wle"}
        Scoring method when ``theta`` is omitted (mirt's default EAP). Persons with an
        infinite estimate are left out.

    Returns
    -------
    DataFrame
        Items x items, symmetric; ``attrs["mean_q3"]`` holds :math:`\bar Q_3`. Under local
        independence :math:`\bar Q_3 \approx -1/(J-1)`; pairs whose adjusted value exceeds
        about 0.2 are commonly taken as locally dependent.

    Notes
    -----
    .. math:: d_{ij} = x_{ij} - \sum_k k\, P_{jk}(\hat\theta_i), \qquad
              Q_{3,jl} = \operatorname{cor}(d_{\cdot j}, d_{\cdot l})

    with category scores :math:`k = 0, \dots, K_j - 1`.

    References
    ----------
    .. [1] Yen, W. M. (1984). Effects of local item dependence on the fit and equating
           performance of the three-parameter logistic model. Applied Psychological
           Measurement, 8, 125-145.
    .. [2] Marais, I. (2013). Local dependence. In Christensen, Kreiner & Mesbah (eds.),
           Rasch Models in Health (pp. 111-130). Wiley.
    .. [3] Christensen, K. B., Makransky, G. & Horton, M. (2017). Critical values for Yen's
           Q3. Applied Psychological Measurement, 41, 178-194.
    """
    method = check_method(method, ("eap", "map", "ml", "wle"))
    enc = encode(calibration, responses)
    theta_values = person_theta(calibration, enc, theta, method)
    n, n_items = enc.codes.shape
    scores = category_scores(enc.n_categories)
    residual = np.zeros((n, n_items))
    finite = np.isfinite(theta_values)
    for start in range(0, n, PERSON_CHUNK):
        stop = min(start + PERSON_CHUNK, n)
        th = np.where(finite[start:stop], theta_values[start:stop], 0.0)
        expected = np.einsum("jmk,jk->mj", probabilities(calibration, th), scores)
        codes = enc.codes[start:stop]
        residual[start:stop] = np.where(codes >= 0, codes, 0) - expected
    usable = enc.observed & finite[:, None]
    r, _ = _pairwise_correlation(residual, usable)
    off = ~np.eye(n_items, dtype=bool)
    values = r[off]
    mean_q3 = float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
    if adjusted:
        r = r - mean_q3
        np.fill_diagonal(r, np.nan)
    else:
        np.fill_diagonal(r, 1.0)
    index = pd.Index(enc.item_ids, name="item")
    frame = pd.DataFrame(r, index=index, columns=pd.Index(enc.item_ids, name="item_2"))
    frame.attrs["mean_q3"] = mean_q3
    return frame


@one_blas_thread
def ld_x2(calibration: Any, responses: Any, *, quadrature_points: int | None = None) -> pd.DataFrame:
    r"""Chen-Thissen local dependence :math:`X^2` for every pair of items.

    Parameters
    ----------
    calibration : Calibration
    responses : DataFrame, ndarray or Responses
        Persons x items; NaN = missing (each pair uses the persons who answered both).
    quadrature_points : int, optional
        Nodes of the latent grid (default: the calibration's).

    Returns
    -------
    DataFrame
        One row per pair (index ``item``, ``item_2``, first item earlier in the calibration):
        ``x2``, ``df``, ``p``, ``z`` (standardized :math:`(X^2 - df)/\sqrt{2 df}`), ``sign``
        (+1 when the pair agrees more than the model expects, -1 when less), ``cramers_v``
        and ``n`` (persons who answered both). :math:`z > 10` is Chen & Thissen's mark of
        strong local dependence. Use ``.x2.unstack()`` for an items x items table.

    Notes
    -----
    For items :math:`j, l` answered by :math:`n_{jl}` persons, with observed counts
    :math:`O_{km}` of the category pairs and model-implied marginal probabilities

    .. math:: \pi_{km} = \int P_{jk}(\theta) P_{lm}(\theta) g(\theta)\, d\theta,

    .. math:: X^2_{jl} = \sum_{k,m} \frac{(O_{km} - n_{jl}\pi_{km})^2}{n_{jl}\pi_{km}},
              \qquad df = (K_j - 1)(K_l - 1).

    The sign compares the observed and expected cross-products of the category scores.

    References
    ----------
    .. [1] Chen, W.-H. & Thissen, D. (1997). Local dependence indexes for item pairs using item
           response theory. Journal of Educational and Behavioral Statistics, 22, 265-289.
    """
    enc = encode(calibration, responses)
    n_items = len(enc.item_ids)
    k_max = int(enc.n_categories.max())
    nodes, weights = grid(calibration, quadrature_points)
    prob = probabilities(calibration, nodes)                            # (J, Q, K)
    pi = np.einsum("jqk,lqm,q->jlkm", prob, prob, weights)
    # counts of every pair of (item, category) cells, a product of one-hot matrices summed
    # over chunks of persons
    width = n_items * k_max
    cells = np.zeros((width, width))
    categories = np.arange(k_max)[None, None, :]
    for start in range(0, enc.codes.shape[0], PERSON_CHUNK):
        chunk = enc.codes[start:start + PERSON_CHUNK]
        flat = (chunk[:, :, None] == categories).reshape(chunk.shape[0], width).astype(np.float64)
        cells += flat.T @ flat
    observed = cells.reshape(n_items, k_max, n_items, k_max).transpose(0, 2, 1, 3)
    mask = enc.observed.astype(np.float64)
    n_pair = mask.T @ mask
    expected = n_pair[:, :, None, None] * pi
    valid = expected > 0
    x2 = np.where(valid, (observed - expected) ** 2 / np.where(valid, expected, 1.0), 0.0).sum(axis=(2, 3))
    scores = np.arange(k_max, dtype=np.float64)
    cross = scores[:, None] * scores[None, :]
    sign = np.sign(((observed - expected) * cross).sum(axis=(2, 3)))
    j_idx, l_idx = np.triu_indices(n_items, k=1)
    df = (enc.n_categories[j_idx] - 1) * (enc.n_categories[l_idx] - 1)
    x2_pairs = x2[j_idx, l_idx]
    n_pairs = n_pair[j_idx, l_idx]
    has = n_pairs > 0
    min_k = np.minimum(enc.n_categories[j_idx], enc.n_categories[l_idx]) - 1
    index = pd.MultiIndex.from_arrays([[enc.item_ids[j] for j in j_idx], [enc.item_ids[l] for l in l_idx]],
                                      names=["item", "item_2"])
    return pd.DataFrame({
        "x2": np.where(has, x2_pairs, np.nan),
        "df": df,
        "p": np.where(has, stats.chi2.sf(x2_pairs, df), np.nan),
        "z": np.where(has, (x2_pairs - df) / np.sqrt(2.0 * df), np.nan),
        "sign": np.where(has, sign[j_idx, l_idx], np.nan),
        "cramers_v": np.where(has, np.sqrt(x2_pairs / np.maximum(n_pairs * min_k, TINY)), np.nan),
        "n": n_pairs.astype(np.int64),
    }, index=index)
