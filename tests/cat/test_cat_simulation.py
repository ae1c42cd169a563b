"""cat.simulate and cat.exposure_parameters: simulated properties with fixed seeds, statistics
against direct computation, and the vectorized engine against one session per examinee."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from cat_pools import graded_pool, two_pl_pool

from psychometrics import cat, irt


@pytest.fixture(scope="module")
def bank():
    return two_pl_pool(120, seed=21)


@pytest.fixture(scope="module")
def thetas():
    return pd.Series(np.random.default_rng(7).standard_normal(600),
                     index=pd.Index([f"e{i:03d}" for i in range(600)], name="examinee"))


def test_se_target_is_met_and_rmse_is_close_to_the_mean_se(bank, thetas):
    result = cat.simulate(bank, thetas, stop={"se": 0.3, "max_items": 40}, seed=1)
    stopped = result.stop_reason == "se"
    assert stopped.mean() > 0.9
    assert (result.se[stopped] <= 0.3).all()
    assert result.mean_se < 0.3
    # EAP's posterior SD is the expected error, so RMSE over examinees matches it (seeded: 0.29 vs 0.28)
    assert result.rmse == pytest.approx(result.mean_se, abs=0.03)
    assert abs(result.bias) < 0.05
    assert result.mean_length < 25 and result.max_length <= 40
    frame = result.to_frame()
    assert list(frame.index[:2]) == ["e000", "e001"]
    assert (frame["length"] == frame["items"].map(len)).all()


def test_simulation_equals_one_session_per_examinee(bank):
    thetas = np.random.default_rng(3).standard_normal(25)
    result = cat.simulate(bank, thetas, stop={"se": 0.35, "max_items": 15}, seed=4)
    for e in range(25):
        session = cat.Session(bank, stop={"se": 0.35, "max_items": 15}, seed=0)
        for t in range(result.length.iloc[e]):
            item = session.next_item()
            assert item == bank.item_ids[result.items[e, t]]
            session.answer(item, result.responses[e, t])
        assert session.done and session.stop_reason == result.stop_reason.iloc[e]
        assert session.theta == pytest.approx(result.theta.iloc[e], abs=1e-12)


def test_statistics_against_direct_computation(bank):
    thetas = np.random.default_rng(9).standard_normal(60)
    result = cat.simulate(bank, thetas, stop={"se": 0.4, "max_items": 12}, seed=2)
    error = result.theta.to_numpy() - thetas
    assert result.bias == pytest.approx(error.mean())
    assert result.rmse == pytest.approx(np.sqrt((error ** 2).mean()))
    tests = [set(items) for items in result.to_frame()["items"]]
    shared = [len(a & b) for a, b in itertools.combinations(tests, 2)]
    assert result.overlap == pytest.approx(np.mean(shared) / result.mean_length, rel=1e-12)
    counts = pd.Series([i for t in tests for i in t]).value_counts()
    assert result.exposure[counts.index].to_numpy() == pytest.approx(counts.to_numpy() / 60)
    assert result.unused_share == pytest.approx(1 - counts.size / bank.n_items)
    table = result.conditional()
    assert table["n"].sum() == 60
    band = (thetas >= 0) & (thetas < 1)
    assert table.loc["[0.0, 1.0)", "rmse"] == pytest.approx(np.sqrt((error[band] ** 2).mean()))
    assert "RMSE" in result.summary() and "test overlap" in result.summary()


def test_kingsbury_zara_keeps_content_within_one_item(bank):
    names = np.array(["communication", "teamwork", "leadership"])
    attributes = pd.DataFrame({"area": names[np.arange(120) % 3], "form": "A"}, index=bank.item_ids)
    content = {"communication": 0.5, "teamwork": 0.3, "leadership": 0.2}
    result = cat.simulate(bank, np.random.default_rng(1).standard_normal(300), content=content,
                          attributes=attributes, content_column="area", stop={"max_items": 10}, seed=3)
    table = result.content_proportions()
    np.testing.assert_allclose(table["observed"], [0.5, 0.3, 0.2], atol=0.02)
    assert (table["max_count"] - table["target"] * 10 <= 1).all()
    assert (table["target"] * 10 - table["min_count"] <= 1).all()
    with pytest.raises(ValueError, match="content_column"):
        cat.simulate(bank, [0.0], content=content, attributes=attributes)


def test_randomesque_lowers_the_largest_exposure(bank, thetas):
    plain = cat.simulate(bank, thetas, stop={"max_items": 10}, seed=5)
    random5 = cat.simulate(bank, thetas, exposure={"randomesque": 5}, stop={"max_items": 10}, seed=5)
    assert plain.max_exposure == 1.0                    # everyone gets the same first item
    assert random5.max_exposure < 0.7
    assert random5.rmse < plain.rmse * 1.15


def test_sympson_hetter_holds_exposure_at_the_target():
    bank = two_pl_pool(60, seed=30)
    fit = cat.exposure_parameters(bank, np.random.default_rng(1).standard_normal(2000), target=0.25, seed=1,
                                  stop={"max_items": 8}, max_iter=20)
    assert fit.max_exposure[0] == 1.0 and fit.converged
    assert (fit.parameters < 1).any() and fit.parameters.between(0, 1).all()
    fresh = cat.simulate(bank, np.random.default_rng(2).standard_normal(2000), exposure=fit,
                         stop={"max_items": 8}, seed=9)
    assert fresh.max_exposure <= 0.25 + 0.03
    # an item is given only when selected: P(A) = P(S) K
    np.testing.assert_allclose(fresh.exposure, fresh.selection_rate * fit.parameters, atol=0.03)
    with pytest.raises(ValueError, match="needs at least"):
        cat.exposure_parameters(bank, [0.0, 1.0], target=0.1, stop={"max_items": 8})


@pytest.mark.parametrize("method", ["ci", "sprt"])
def test_classification_against_a_cut(bank, method):
    thetas = np.random.default_rng(11).standard_normal(400)
    result = cat.simulate(bank, thetas, cut=0.5, stop={"classification": method, "max_items": 30,
                                                       "min_items": 3}, seed=6)
    stats = result.statistics()
    far = np.abs(thetas - 0.5) > 0.5
    truth = np.where(thetas >= 0.5, "pass", "fail")
    assert (result.classification.to_numpy()[far] == truth[far]).mean() > 0.97
    assert stats["classification_accuracy"] > 0.9
    # far from the cut the test ends early; near it, it runs longer
    assert result.length[far].mean() < result.length[~far].mean()
    assert result.length.min() >= 3
    decided = result.stop_reason == "classification"
    assert decided.mean() > 0.6 and stats["classified_by_rule"] == decided.mean()
    assert "decided by the classification rule" in result.summary()


def test_sprt_log_likelihood_ratio_is_the_direct_one(bank):
    session = cat.Session(bank, cut=0.0, stop={"classification": "sprt", "indifference": 0.3,
                                               "alpha": 0.05, "beta": 0.05, "max_items": 40}, seed=1)
    rng = np.random.default_rng(0)
    while (item := session.next_item()) is not None:
        session.answer(item, int(rng.random() < 0.8))
    history = session.history
    log_p = bank.log_probabilities(np.array([-0.3, 0.3]))
    position = [bank.item_ids.index(i) for i in history["item"]]
    ratio = sum(log_p[j, 1, x] - log_p[j, 0, x] for j, x in zip(position, history["response"].astype(int)))
    assert session.stop_reason == "classification" and session.classification == "pass"
    assert ratio >= math.log(0.95 / 0.05)
    before = ratio - (log_p[position[-1], 1, int(history["response"].iloc[-1])]
                      - log_p[position[-1], 0, int(history["response"].iloc[-1])])
    assert before < math.log(0.95 / 0.05)


def test_polytomous_pool_and_other_scoring():
    calibration = graded_pool(20)
    thetas = np.random.default_rng(2).standard_normal(200)
    result = cat.simulate(calibration, thetas, selection="mepv", scoring="map", stop={"max_items": 6}, seed=1)
    frame = pd.DataFrame(np.nan, index=range(200), columns=calibration.item_ids)
    for e in range(200):
        for j, x in zip(result.items[e], result.responses[e]):
            frame.iloc[e, j] = x
    expected = irt.score(calibration, frame, method="map")
    np.testing.assert_allclose(result.theta, expected["theta"], atol=1e-10)
    assert result.rmse < 0.6


def test_bad_thetas_are_refused(bank):
    with pytest.raises(TypeError, match="not a count"):
        cat.simulate(bank, 100)
    with pytest.raises(ValueError, match="examinee 2"):
        cat.simulate(bank, [0.0, 1.0, np.nan])


def test_randomesque_near_the_end_of_the_pool_gives_only_eligible_items():
    calibration = two_pl_pool(12)
    result = cat.simulate(calibration, np.zeros(200), exposure={"randomesque": 5},
                          stop={"max_items": 12}, seed=1)
    assert (result.length == 12).all()
    assert all(len(set(row)) == 12 for row in result.items)   # every item once, none repeated
