"""E-step kernel and quadrature: brute-force agreement, chunk additivity, missing responses."""

from __future__ import annotations

import numpy as np
import pytest

from psychometrics.estep import combine, estep, log_likelihood_matrix, pack_codes, posterior
from psychometrics.quadrature import normal_log_weights, normal_quadrature


def _problem(rng, n=300, n_items=6, k=4, q=21, missing=0.3):
    n_cat = rng.integers(2, k + 1, size=n_items)
    log_probs = np.full((n_items, q, k), -np.inf)
    for j in range(n_items):
        log_probs[j, :, :n_cat[j]] = np.log(rng.dirichlet(np.ones(n_cat[j]), size=q))
    codes = (rng.random((n, n_items)) * n_cat).astype(np.int8)
    codes[rng.random((n, n_items)) < missing] = -1
    log_prior = normal_log_weights(np.linspace(-4, 4, q))
    return codes, log_probs, log_prior


def _brute_force(codes, log_probs, log_prior, weights=None):
    n, n_items = codes.shape
    _, q, k = log_probs.shape
    w = np.ones(n) if weights is None else weights
    counts = np.zeros((n_items, q, k))
    nodes = np.zeros(q)
    loglik = 0.0
    for i in range(n):
        ll = log_prior.copy()
        for j in range(n_items):
            if codes[i, j] >= 0:
                ll += log_probs[j, :, codes[i, j]]
        marginal = np.log(np.exp(ll).sum())
        post = np.exp(ll - marginal)
        loglik += w[i] * marginal
        nodes += w[i] * post
        for j in range(n_items):
            if codes[i, j] >= 0:
                counts[j, :, codes[i, j]] += w[i] * post
    return counts, loglik, nodes


def test_estep_matches_brute_force(rng):
    codes, log_probs, log_prior = _problem(rng)
    e = estep(codes, log_probs, log_prior)
    counts, loglik, nodes = _brute_force(codes, log_probs, log_prior)
    np.testing.assert_allclose(e.counts, counts, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(e.loglik, loglik, rtol=1e-12)
    np.testing.assert_allclose(e.node_counts, nodes, rtol=1e-11)
    assert e.n_persons == codes.shape[0]
    # every observed response is distributed over the nodes exactly once
    observed = np.array([np.bincount(codes[codes[:, j] >= 0, j], minlength=4) for j in range(codes.shape[1])])
    np.testing.assert_allclose(e.counts.sum(axis=1), observed, rtol=1e-11)


def test_chunks_are_plain_sums(rng):
    codes, log_probs, log_prior = _problem(rng, n=1000)
    whole = estep(codes, log_probs, log_prior)
    parts = combine(estep(codes[s:s + 137], log_probs, log_prior) for s in range(0, 1000, 137))
    np.testing.assert_allclose(parts.counts, whole.counts, rtol=1e-11)
    np.testing.assert_allclose(parts.loglik, whole.loglik, rtol=1e-12)
    np.testing.assert_allclose(parts.node_counts, whole.node_counts, rtol=1e-11)
    assert parts.n_persons == whole.n_persons


def test_frequency_weights_equal_repeated_rows(rng):
    codes, log_probs, log_prior = _problem(rng, n=50)
    freq = rng.integers(1, 5, size=50)
    weighted = estep(codes, log_probs, log_prior, weights=freq.astype(float))
    repeated = estep(np.repeat(codes, freq, axis=0), log_probs, log_prior)
    np.testing.assert_allclose(weighted.counts, repeated.counts, rtol=1e-11)
    np.testing.assert_allclose(weighted.loglik, repeated.loglik, rtol=1e-12)
    assert weighted.n_persons == freq.sum()


def test_missing_response_contributes_nothing(rng):
    # a missing response gives the same result as deleting the item for that person
    codes, log_probs, log_prior = _problem(rng, n=40, missing=0.0)
    with_missing = codes.copy()
    with_missing[:, 2] = -1
    e = estep(with_missing, log_probs, log_prior)
    dropped = estep(np.delete(codes, 2, axis=1), np.delete(log_probs, 2, axis=0), log_prior)
    np.testing.assert_allclose(e.loglik, dropped.loglik, rtol=1e-12)
    np.testing.assert_allclose(np.delete(e.counts, 2, axis=0), dropped.counts, rtol=1e-11)
    assert np.all(e.counts[2] == 0)


def test_posterior_and_loglik_matrix(rng):
    codes, log_probs, log_prior = _problem(rng, n=25)
    ll = log_likelihood_matrix(codes, log_probs)
    post, marginal = posterior(codes, log_probs, log_prior)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(marginal.sum(), estep(codes, log_probs, log_prior).loglik, rtol=1e-12)
    np.testing.assert_allclose(np.exp(ll + log_prior - marginal[:, None]), post, rtol=1e-10)


def test_bad_shapes_raise(rng):
    codes, log_probs, log_prior = _problem(rng, n=5)
    with pytest.raises(ValueError, match="expected \\(persons, 6\\)"):
        estep(codes[:, :3], log_probs, log_prior)
    with pytest.raises(ValueError, match="log_prior has shape"):
        estep(codes, log_probs, log_prior[:-1])
    with pytest.raises(ValueError, match="weights have shape"):
        estep(codes, log_probs, log_prior, weights=np.ones(3))


def test_normal_quadrature_defaults_match_mirt_grid():
    q = normal_quadrature()
    assert q.nodes.shape == (61,)
    np.testing.assert_allclose(q.nodes[[0, 30, 60]], [-6.0, 0.0, 6.0])
    np.testing.assert_allclose(q.weights.sum(), 1.0, rtol=1e-14)
    # the discrete weights reproduce the N(0, 1) moments to high accuracy on this grid
    np.testing.assert_allclose(q.weights @ q.nodes, 0.0, atol=1e-14)
    np.testing.assert_allclose(q.weights @ q.nodes ** 2, 1.0, rtol=1e-7)


def test_quadrature_reweights_or_rescales():
    fixed = normal_quadrature(mean=0.5, variance=2.0)
    np.testing.assert_allclose(fixed.nodes, np.linspace(-6, 6, 61))
    # truncation at +-6 costs a little of the wider distribution
    np.testing.assert_allclose(fixed.weights @ fixed.nodes, 0.5, rtol=1e-3)
    np.testing.assert_allclose(fixed.weights @ (fixed.nodes - 0.5) ** 2, 2.0, rtol=1e-2)
    moved = normal_quadrature(21, mean=1.0, variance=4.0, rescale=True)
    np.testing.assert_allclose(moved.nodes[[0, -1]], [1.0 - 12.0, 1.0 + 12.0])
    with pytest.raises(ValueError, match="variance must be positive"):
        normal_quadrature(variance=0.0)
    with pytest.raises(ValueError, match="quadrature_points"):
        normal_quadrature(2)


def test_codes_outside_an_items_categories_are_refused_before_the_kernel():
    # a code of 7 for a two-category item once returned numbers and then corrupted the heap
    log_probs = np.log(np.full((2, 5, 3), 1 / 3))
    log_probs[0, :, 2] = -np.inf          # item 0 has two categories, item 1 three
    log_prior = np.log(np.full(5, 0.2))
    with pytest.raises(ValueError, match=r"row 1, item column 0: code 7 .*0\.\.1"):
        estep(np.array([[0, 2], [7, 1]]), log_probs, log_prior)
    with pytest.raises(ValueError, match=r"row 0, item column 0: code 2 "):
        estep(np.array([[2, 2], [1, 1]]), log_probs, log_prior)
    with pytest.raises(ValueError, match=r"code -3"):
        posterior(np.array([[0, -3]]), log_probs, log_prior)
    with pytest.raises(ValueError, match="integer category indices"):
        log_likelihood_matrix(np.array([[0.5, 1.0]]), log_probs)
    e = estep(np.array([[1, 2], [-1, -1]]), log_probs, log_prior)
    assert e.counts.sum() == pytest.approx(2.0)


@pytest.mark.parametrize("k,missing", [(2, 0.0), (2, 0.2), (3, 0.1), (5, 0.0), (5, 0.2), (9, 0.1)])
def test_packed_tuples_equal_brute_force(rng, k, missing):
    # tuples of 1..6 items, a last tuple with empty places, missing digits and frequency weights
    codes, log_probs, log_prior = _problem(rng, n=400, n_items=7, k=k, q=15, missing=missing)
    weights = rng.integers(1, 4, size=codes.shape[0]).astype(float)
    packed = pack_codes(codes, k)
    assert packed.radix ** packed.members.shape[1] <= 64
    assert packed.radix == k + (missing > 0) and packed.combo.dtype == np.uint8
    counts, loglik, nodes = _brute_force(codes, log_probs, log_prior, weights)
    for given in (packed, codes):
        e = estep(given, log_probs, log_prior, weights)
        np.testing.assert_allclose(e.counts, counts, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(e.loglik, loglik, rtol=1e-12)
        np.testing.assert_allclose(e.node_counts, nodes, rtol=1e-11)


def test_packed_codes_are_checked_once_and_against_the_log_probabilities():
    log_probs = np.log(np.full((2, 5, 3), 1 / 3))
    log_prior = np.log(np.full(5, 0.2))
    with pytest.raises(ValueError, match=r"row 1, item column 0: code 3 "):
        pack_codes(np.array([[0, 2], [3, 1]]), 3)
    packed = pack_codes(np.array([[0, 2], [2, 1]]), 3)
    log_probs[0, :, 2] = -np.inf          # item 0 now has two categories: code 2 is refused
    with pytest.raises(ValueError, match=r"row 1, item column 0: code 2 "):
        estep(packed, log_probs, log_prior)
    with pytest.raises(ValueError, match="packed responses are for 2 items"):
        estep(packed, log_probs[:1], log_prior)


def test_packed_codes_of_items_with_many_categories(rng):
    # 300 categories: one item a tuple, rows beyond one byte
    _, log_probs, log_prior = _problem(rng, n=1, n_items=3, k=300, q=9)
    n_cat = np.isfinite(log_probs[:, 0, :]).sum(axis=1)
    codes = (rng.random((200, 3)) * n_cat).astype(np.int32)
    codes[rng.random(codes.shape) < 0.2] = -1
    packed = pack_codes(codes, 300)
    assert packed.members.shape == (3, 1) and packed.combo.dtype == np.int32
    counts, loglik, nodes = _brute_force(codes, log_probs, log_prior)
    e = estep(packed, log_probs, log_prior)
    np.testing.assert_allclose(e.counts, counts, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(e.loglik, loglik, rtol=1e-12)
