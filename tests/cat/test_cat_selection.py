"""Selection rules: known answers for each criterion, and the literature checks of kl and mpwi
against mfi.

Literature checks (stated here and in the package notes):

1. Chang & Ying (1996): the KL index integrates
   :math:`KL_j(\\hat\\theta \\| \\theta) \\approx \\tfrac12 I_j(\\hat\\theta)(\\theta - \\hat\\theta)^2`
   over :math:`\\hat\\theta \\pm \\delta_n`, :math:`\\delta_n = 3/\\sqrt{n}`; once the interval is
   narrow it equals :math:`I_j(\\hat\\theta)\\,\\delta_n^3 / 3` and ranks items as Fisher
   information does, while early (wide interval) it does not.
2. van der Linden (1998), Veerkamp & Berger (1997): MPWI is Fisher information averaged over
   the posterior: before any answer the prior average :math:`\\int I_j(\\theta)\\varphi(\\theta)
   d\\theta`, and :math:`I_j(\\hat\\theta)` once the posterior is concentrated.
3. Chen, Ankenmann & Chang (2000): KL and MPWI select different items than Fisher information
   at the early stages of a CAT (on the same interim state) and agree increasingly later;
   after 20 items the precision of the rules is the same.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from cat_pools import graded_pool, two_pl_pool
from scipy import integrate

from psychometrics import cat, irt
from psychometrics.cat._engine import Engine
from psychometrics.cat._options import build_design
from psychometrics.irt import Calibration


@pytest.fixture(scope="module")
def lognormal_pool() -> Calibration:
    rng = np.random.default_rng(3)
    params = pd.DataFrame({"a": rng.lognormal(0.0, 0.35, 200), "b": rng.normal(0.0, 1.2, 200)},
                          index=[f"q{j:03d}" for j in range(200)])
    return Calibration.from_item_params(params, "2pl")


def _engine(calibration, selection, n=1, **options):
    return Engine(build_design(calibration, selection=selection, **options), n, np.random.default_rng(0))


def test_kl_index_is_the_integral_of_kullback_leibler_information():
    calibration = graded_pool()
    engine = _engine(calibration, "kl")
    engine.record(np.array([0]), np.array([3]), np.array([2]))
    theta_hat = engine.theta[0]
    delta = 3.0                                     # n = 1
    p_hat = calibration.probabilities(np.array([theta_hat]))[:, 0, :]
    for j in (0, 5, 11):
        def kl(t, j=j):
            p = calibration.probabilities(np.array([t]))[j, 0, :]
            valid = p_hat[j] > 0
            return float(np.sum(p_hat[j][valid] * np.log(p_hat[j][valid] / p[valid])))
        expected, _ = integrate.quad(kl, theta_hat - delta, theta_hat + delta, epsabs=1e-12, limit=200)
        assert engine._kl(np.array([0]))[0, j] == pytest.approx(expected, rel=1e-5)


def test_kl_ranks_as_fisher_information_once_the_interval_is_narrow(lognormal_pool):
    engine = _engine(lognormal_pool, "kl")
    first = np.argmax(engine.information(np.array([0.0]))[0])     # what mfi gives first
    engine.record(np.array([0]), np.array([first]), np.array([1]))
    info = np.where(engine.administered[0], 0.0, engine.information(engine.theta)[0])
    # early: delta = 3, a different item than mfi's
    early = np.where(engine.administered[0], 0.0, engine._kl(np.array([0]))[0])
    assert np.argmax(early) != np.argmax(info)
    # as if 900 items were given: delta = 0.1, KL ~ I delta^3 / 3
    engine.length[0] = 900
    kl = np.where(engine.administered[0], 0.0, engine._kl(np.array([0]))[0])
    np.testing.assert_allclose(kl / (0.1 ** 3 / 3.0), info, rtol=0.02)
    assert np.argmax(kl) == np.argmax(info)


def test_mpwi_is_prior_averaged_information_at_the_start_and_fisher_information_later(lognormal_pool):
    engine = _engine(lognormal_pool, "mpwi", stop={"max_items": 200})
    first = engine.posterior(np.array([0])) @ engine.info_grid
    for j in (0, 17, 120):
        expected, _ = integrate.quad(
            lambda t: float(irt.item_information(lognormal_pool, t).iloc[0, j]) * np.exp(-t * t / 2) / np.sqrt(2 * np.pi),
            -6, 6, epsabs=1e-10)
        assert first[0, j] == pytest.approx(expected, rel=2e-3)   # 61-node grid vs adaptive quadrature
    # a concentrated posterior: 150 answers from a responder at 0.8
    rng = np.random.default_rng(1)
    items = np.arange(150)
    p = lognormal_pool.probabilities(np.array([0.8]))[:150, 0, 1]
    for j, x in zip(items, (rng.random(150) < p).astype(int)):
        engine.record(np.array([0]), np.array([j]), np.array([x]))
    mpwi = (engine.posterior(np.array([0])) @ engine.info_grid)[0, 150:]
    info = engine.information(engine.theta)[0, 150:]
    np.testing.assert_allclose(mpwi, info, rtol=0.1)


def test_kl_and_mpwi_differ_from_mfi_early_and_agree_later(lognormal_pool):
    thetas = np.random.default_rng(4).standard_normal(150)
    length = 16
    mfi = cat.simulate(lognormal_pool, thetas, stop={"max_items": length}, seed=5)
    rows = np.arange(thetas.size)
    for rule in ("kl", "mpwi"):
        engine = _engine(lognormal_pool, rule, n=thetas.size, stop={"max_items": length})
        agreement = []
        for t in range(length):
            agreement.append(np.mean(engine.select(rows) == mfi.items[:, t]))
            engine.record(rows, mfi.items[:, t], mfi.responses[:, t].astype(np.int64))
        # the second item (after one answer, a wide posterior) differs for everyone
        assert agreement[1] < 0.2, (rule, agreement)
        assert np.mean(agreement[10:]) > 0.7, (rule, agreement)
        own = cat.simulate(lognormal_pool, thetas, selection=rule, stop={"max_items": length}, seed=5)
        assert own.rmse == pytest.approx(mfi.rmse, rel=0.1)


def test_mepv_equals_the_expected_variance_of_the_updated_eap():
    calibration = graded_pool()
    engine = _engine(calibration, "mepv")
    answered = {"g03": 3, "g07": 1}
    for item, code in answered.items():
        j = calibration.item_ids.index(item)
        engine.record(np.array([0]), np.array([j]), np.array([calibration.categories[item].index(code)]))
    epv = engine._expected_posterior_variance(np.array([0]))[0]
    posterior = engine.posterior(np.array([0]))[0]
    probability = calibration.probabilities(engine.nodes)              # (J, Q, K)
    for item in ("g00", "g05", "g10"):
        j = calibration.item_ids.index(item)
        expected = 0.0
        for k, code in enumerate(calibration.categories[item]):
            predictive = float(posterior @ probability[j, :, k])
            scored = irt.score(calibration, pd.DataFrame([{**answered, item: code}], dtype=float))
            expected += predictive * scored["se"].iloc[0] ** 2
        assert epv[j] == pytest.approx(expected, rel=1e-8)


def test_progressive_moves_from_random_to_information():
    calibration = two_pl_pool(80)
    thetas = np.random.default_rng(2).standard_normal(400)
    result = cat.simulate(calibration, thetas, selection="progressive", stop={"max_items": 20}, seed=1)
    first = pd.Series(result.items[:, 0]).value_counts(normalize=True)
    assert first.iloc[0] < 0.5                        # mfi gives everyone the same first item
    # the last item is nearly the most informative one at the interim estimate
    engine = _engine(calibration, "mfi", n=thetas.size, stop={"max_items": 20})
    rows = np.arange(thetas.size)
    for t in range(19):
        engine.record(rows, result.items[:, t], result.responses[:, t].astype(np.int64))
    info = engine.information(engine.theta)
    given = np.take_along_axis(info, result.items[:, 19:20], axis=1)[:, 0]
    best = np.where(engine.administered, -np.inf, info).max(axis=1)
    assert np.median(given / best) > 0.9


def test_random_selection_spreads_exposure():
    calibration = two_pl_pool(40)
    result = cat.simulate(calibration, np.zeros(2000), selection="random", stop={"max_items": 10}, seed=3)
    np.testing.assert_allclose(result.exposure, 0.25, atol=0.05)   # 10 of 40 items each


def test_shadow_test_by_milp_equals_the_exact_partition_solution(areas):
    calibration = two_pl_pool()
    content = {"communication": 0.25, "teamwork": 0.25, "leadership": 0.3, "planning": 0.2}
    design = build_design(calibration, selection="shadow", attributes=areas, content=content, stop={"max_items": 8})
    assert design.area_counts.tolist() == [2, 2, 2, 2]   # 2, 2, 2.4, 1.6 by largest remainder
    rng = np.random.default_rng(5)
    engine = Engine(design, 8, rng, shadow_milp=True)
    fast = Engine(design, 8, rng, shadow_milp=False)
    rows = np.arange(8)
    thetas = rng.normal(size=8)
    for t in range(8):
        ok = engine.eligible(rows)
        by_milp = engine._shadow_criterion(rows, ok)
        exact = fast._shadow_criterion(rows, ok)
        np.testing.assert_array_equal(np.isfinite(by_milp), np.isfinite(exact))
        items = np.argmax(by_milp, axis=1)
        codes = (rng.random(8) < calibration.probabilities(thetas)[items, rows, 1]).astype(np.int64)
        engine.record(rows, items, codes)
        fast.record(rows, items, codes)
    counts = pd.DataFrame(areas.to_numpy()[engine.items]).apply(lambda r: r.value_counts(), axis=1)
    assert (counts[list(content)] == 2).all().all()


def test_shadow_test_meets_content_exactly_and_never_gives_enemies(areas):
    calibration = two_pl_pool()
    content = {"communication": 0.4, "teamwork": 0.2, "leadership": 0.2, "planning": 0.2}
    # the two most informative items near 0 are enemies
    order = irt.item_information(calibration, 0.0).iloc[0].sort_values(ascending=False).index
    enemies = [[order[0], order[1]], [order[2], order[3], order[4]]]
    result = cat.simulate(calibration, np.random.default_rng(8).standard_normal(12), selection="shadow",
                          attributes=areas, content=content, enemies=enemies, stop={"max_items": 10}, seed=2)
    proportions = result.content_proportions()
    assert proportions["min_count"].tolist() == proportions["max_count"].tolist() == [4, 2, 2, 2]
    given = [set(items) for items in result.to_frame()["items"]]
    for group in enemies:
        assert max(len(s & set(group)) for s in given) == 1
    # a single session solves the program with milp
    session = cat.Session(calibration, selection="shadow", attributes=areas, content=content, enemies=enemies,
                          stop={"max_items": 10}, seed=0)
    while (item := session.next_item()) is not None:
        session.answer(item, 1)
    counts = areas[session.administered].value_counts()
    assert counts.to_dict() == {"communication": 4, "teamwork": 2, "leadership": 2, "planning": 2}
    assert len(set(session.administered) & set(enemies[1])) <= 1


def test_shadow_milp_matches_brute_force_on_a_tiny_pool():
    calibration = two_pl_pool(8)
    attributes = pd.Series(["x", "x", "x", "y", "y", "y", "z", "z"], index=calibration.item_ids)
    design = build_design(calibration, selection="shadow", attributes=attributes,
                          content={"x": 0.5, "y": 0.25, "z": 0.25}, enemies=[["q00", "q01"]], stop={"max_items": 4})
    engine = Engine(design, 1, np.random.default_rng(0))
    info = engine.information(np.array([0.3]))[0]
    chosen = engine._shadow_test(0, info, np.zeros(8, dtype=bool))
    best, best_value = None, -np.inf
    for subset in itertools.combinations(range(8), 4):
        names = attributes.iloc[list(subset)]
        if (names == "x").sum() != 2 or (names == "y").sum() != 1 or {0, 1} <= set(subset):
            continue
        if info[list(subset)].sum() > best_value:
            best, best_value = set(subset), info[list(subset)].sum()
    assert set(np.flatnonzero(chosen)) == best
