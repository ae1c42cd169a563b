r"""Sum-score likelihoods by the Lord-Wingersky recursion.

Both :func:`psychometrics.scoring.eap_sum_table` (EAP per sum score) and the
Orlando-Thissen :math:`S\text{-}X^2` item fit (:mod:`psychometrics.fit.item`, which needs
the rest score with one item left out) build on the same recursion; it lives here once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sum_score_likelihoods"]


def sum_score_likelihoods(probabilities: np.ndarray, n_categories: np.ndarray, *,
                          exclude: int | None = None) -> np.ndarray:
    r"""Probability of every attainable sum score at every node: :math:`\Pr(S = s \mid \theta_q)`.

    Parameters
    ----------
    probabilities : ndarray, shape (J, Q, max K)
        Category probabilities of item ``j`` at node ``q``; entries beyond an item's
        categories are ignored.
    n_categories : array of int, shape (J,)
        Number of categories of each item. Category ``k`` scores ``k`` points, so the lowest
        category of every item scores 0.
    exclude : int, optional
        Index of an item left out of the sum (the rest score of item ``exclude``).

    Returns
    -------
    ndarray, shape (S_max + 1, Q)
        Row ``s`` holds the likelihood of sum score ``s``, where ``S_max`` is the sum of
        ``K_j - 1`` over the items included.

    Notes
    -----
    Starting from :math:`L^{(0)}_0(\theta) = 1`, adding item :math:`j` gives

    .. math:: L^{(j)}_s(\theta) = \sum_{k=0}^{K_j - 1} L^{(j-1)}_{s-k}(\theta)\, P_{jk}(\theta).

    Each column is a probability distribution over the sum scores (it sums to one when the
    category probabilities do), so its largest entry is at least :math:`1/(S_{max} + 1)` and
    the recursion cannot underflow as a whole on long tests; no rescaling is needed.

    References
    ----------
    .. [1] Lord, F. M., & Wingersky, M. S. (1984). Comparison of IRT true-score and
           equipercentile observed-score "equatings". Applied Psychological Measurement,
           8(4), 453-461.
    .. [2] Thissen, D., Pommerich, M., Billeaud, K., & Williams, V. S. L. (1995). Item
           response theory for scores on tests including polytomous items with ordered
           responses. Applied Psychological Measurement, 19(1), 39-49.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_nodes = probabilities.shape[1]
    likelihood = np.ones((1, n_nodes))
    for j, k_j in enumerate(np.asarray(n_categories, dtype=np.int64)):
        if j == exclude:
            continue
        grown = np.zeros((likelihood.shape[0] + int(k_j) - 1, n_nodes))
        for k in range(int(k_j)):
            grown[k:k + likelihood.shape[0]] += likelihood * probabilities[j, :, k]
        likelihood = grown
    return likelihood
