"""Lord-Wingersky recursion shared by EAP sum-score tables and S-X2."""

import numpy as np

from psychometrics.sumscore import sum_score_likelihoods


def _dichotomous(p: np.ndarray) -> np.ndarray:
    """(J, Q, 2) table from the probabilities of category 1."""
    return np.stack([1.0 - p, p], axis=-1)


def test_two_dichotomous_items_by_hand():
    # Known answer: the sum of two independent Bernoulli variables, written out by hand.
    p = np.array([[0.2, 0.7], [0.6, 0.9]])
    table = sum_score_likelihoods(_dichotomous(p), np.array([2, 2]))
    p1, p2 = p
    expected = np.stack([(1 - p1) * (1 - p2), p1 * (1 - p2) + (1 - p1) * p2, p1 * p2])
    np.testing.assert_allclose(table, expected, rtol=0, atol=1e-15)


def test_polytomous_matches_enumeration():
    # Known answer: brute-force enumeration of all response patterns (3 items, 2-4 categories).
    rng = np.random.default_rng(3)
    n_categories = np.array([3, 2, 4])
    prob = np.zeros((3, 5, 4))
    for j, k in enumerate(n_categories):
        prob[j, :, :k] = rng.dirichlet(np.ones(k), size=5)
        prob[j, :, k:] = 0.123  # padding must be ignored
    brute = np.zeros((7, 5))
    for a in range(3):
        for b in range(2):
            for c in range(4):
                brute[a + b + c] += prob[0, :, a] * prob[1, :, b] * prob[2, :, c]
    np.testing.assert_allclose(sum_score_likelihoods(prob, n_categories), brute, rtol=1e-13)


def test_exclude_equals_recursion_without_the_item():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, size=(5, 7))
    prob = _dichotomous(p)
    rest = sum_score_likelihoods(prob, np.full(5, 2), exclude=2)
    direct = sum_score_likelihoods(np.delete(prob, 2, axis=0), np.full(4, 2))
    np.testing.assert_allclose(rest, direct, rtol=1e-14)
    assert rest.shape == (5, 7)


def test_long_test_columns_stay_distributions():
    # 400 items: no rescaling needed, every column still sums to one.
    rng = np.random.default_rng(5)
    prob = _dichotomous(rng.uniform(0.01, 0.99, size=(400, 11)))
    table = sum_score_likelihoods(prob, np.full(400, 2))
    assert table.shape == (401, 11)
    np.testing.assert_allclose(table.sum(axis=0), 1.0, rtol=1e-12)
    assert np.isfinite(table).all()
