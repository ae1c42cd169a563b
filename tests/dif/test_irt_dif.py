"""IRT likelihood-ratio and Wald DIF: injected DIF is flagged, DIF-free data are not, statistics
equal their definitions, effect sizes equal hand integrals, bad input raises."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from psychometrics.dif.irt import expected_score_effect, irt_lr, irt_wald
from psychometrics.errors import ResponseError
from psychometrics.irt import Calibration, calibrate
from psychometrics.simulate import simulate

N_ITEMS = 12
ITEMS = [f"q{j:02d}" for j in range(N_ITEMS)]
_rng = np.random.default_rng(2026)
TRUTH = pd.DataFrame({"a": _rng.uniform(1.0, 1.8, N_ITEMS), "b": _rng.uniform(-1.2, 1.2, N_ITEMS)}, index=ITEMS)
UNIFORM, NONUNIFORM = "q03", "q08"


def _dif_data(n: int = 1500, dif: bool = True, missing: float = 0.0, seed: int = 1, n_groups: int = 2,
              model: str = "2pl"):
    """Reference N(0, 1); focal groups N(-0.4, 1.1^2). With ``dif``: item q03 is 0.6 harder for
    the focal groups (uniform DIF), item q08 has its slope halved (non-uniform DIF)."""
    rng = np.random.default_rng(seed)
    focal = TRUTH.copy()
    if dif:
        focal.loc[UNIFORM, "b"] += 0.6
        focal.loc[NONUNIFORM, "a"] *= 0.5
    parts = [simulate(TRUTH, n, model=model, seed=rng, missing=missing)]
    for _ in range(n_groups - 1):
        parts.append(simulate(focal, n, model=model, seed=rng, latent_mean=-0.4, latent_sd=1.1, missing=missing))
    labels = ["R"] + [f"F{k}" for k in range(1, n_groups)]
    for label, part in zip(labels, parts):
        part.index = [f"{label}{i:05d}" for i in range(n)]
    data = pd.concat(parts)
    group = pd.Series(np.repeat(labels, n), index=data.index)
    return data, group


@pytest.fixture(scope="module")
def with_dif():
    return _dif_data()


@pytest.mark.parametrize("scheme", ["drop", "add"])
def test_lr_flags_uniform_and_nonuniform_dif(with_dif, scheme):
    data, group = with_dif
    table = irt_lr(data, group, "2pl", scheme=scheme, reference="R")
    assert list(table.columns) == ["reference", "focal", "chi2", "df", "p", "p_adjusted", "flag", "sids", "uids",
                                   "essd"]
    assert list(table.index) == ITEMS and table.index.name == "item"
    assert set(table.index[table["flag"]]) == {UNIFORM, NONUNIFORM}
    assert (table["df"] == 2).all()
    # the focal group finds q03 harder at equal trait level: negative signed difference
    assert table.loc[UNIFORM, "sids"] < -0.05 and table.loc[UNIFORM, "essd"] < -0.1
    assert table.loc[NONUNIFORM, "uids"] > abs(table.loc[NONUNIFORM, "sids"]) - 1e-12
    assert table.scheme == scheme


def test_wald_flags_the_same_items_and_agrees_with_lr(with_dif):
    data, group = with_dif
    wald = irt_wald(data, group, "2pl", reference="R")
    assert set(wald.index[wald["flag"]]) == {UNIFORM, NONUNIFORM}
    lr = irt_lr(data, group, "2pl", scheme="add", reference="R")
    # asymptotically equivalent tests of the same hypothesis on the same free baseline
    for item in (UNIFORM, NONUNIFORM):
        assert wald.loc[item, "chi2"] == pytest.approx(lr.loc[item, "chi2"], rel=0.3)
    anchored = irt_wald(data, group, "2pl", reference="R", anchors=["q00", "q01", "q02"])
    assert list(anchored.index) == ITEMS[3:]
    assert {UNIFORM, NONUNIFORM} <= set(anchored.index[anchored["flag"]])
    # with anchors (latent distribution estimated jointly, "Wald-1") the Wald statistics track
    # the likelihood-ratio statistics of the same anchored free baseline item by item
    anchored_lr = irt_lr(data, group, "2pl", scheme="add", reference="R", anchors=["q00", "q01", "q02"])
    np.testing.assert_allclose(anchored["chi2"], anchored_lr["chi2"], rtol=0.1, atol=0.5)


def test_lr_statistic_equals_its_definition(with_dif):
    # chi2 = 2 (l_free - l_constrained) for the drop scheme, p from chi2 with df = (G-1) p
    data, group = with_dif
    table = irt_lr(data, group, "2pl", scheme="drop", reference="R", items=[UNIFORM], adjust="none")
    base = calibrate(data, "2pl", group=group, reference="R")
    freed = calibrate(data, "2pl", group=group, reference="R", free_items=[UNIFORM])
    chi2 = 2 * (freed.loglik - base.loglik)
    assert table.loc[UNIFORM, "chi2"] == pytest.approx(chi2, abs=2e-3)
    assert table.loc[UNIFORM, "p"] == pytest.approx(stats.chi2.sf(table.loc[UNIFORM, "chi2"], 2), rel=1e-12)
    assert table.loc[UNIFORM, "p_adjusted"] == table.loc[UNIFORM, "p"]
    assert table.baseline_loglik == pytest.approx(base.loglik, abs=1e-6)


def test_dif_free_data_give_few_flags():
    data, group = _dif_data(n=1000, dif=False, seed=5)
    lr = irt_lr(data, group, "2pl", reference="R")
    wald = irt_wald(data, group, "2pl", reference="R")
    # Holm-adjusted at 0.05 over 12 items: a family-wise error rate of 5%; allow one flag
    assert lr["flag"].sum() <= 1 and wald["flag"].sum() <= 1
    assert (lr["essd"].abs() < 0.15).all()


def test_three_groups_and_missing_responses():
    data, group = _dif_data(n=1000, missing=0.15, n_groups=3, seed=8)
    table = irt_lr(data, group, "2pl", reference="R")
    assert (table["df"] == 4).all()
    assert {UNIFORM, NONUNIFORM} <= set(table.index[table["flag"]])
    assert table["flag"].sum() <= 3
    assert set(table["focal"]) <= {"F1", "F2"}
    wald = irt_wald(data, group, "2pl", reference="R", adjust="bh")
    assert (wald["df"] == 4).all() and {UNIFORM, NONUNIFORM} <= set(wald.index[wald["flag"]])


def test_graded_items():
    params = pd.DataFrame({"a": [1.2, 1.5, 0.9, 1.3, 1.1, 1.6], "b1": [-1.2, -1.0, -0.6, -1.4, -0.8, -1.1],
                           "b2": [0.0, 0.3, 0.4, -0.2, 0.2, 0.1], "b3": [1.1, 1.2, 1.5, 0.9, 1.3, 1.0]},
                          index=[f"g{j}" for j in range(6)])
    focal = params.copy()
    focal.loc["g2", ["b1", "b2", "b3"]] += 0.6
    rng = np.random.default_rng(4)
    ref = simulate(params, 1200, model="graded", seed=rng)
    foc = simulate(focal, 1200, model="graded", seed=rng, latent_mean=0.3)
    foc.index = [f"f{i}" for i in range(1200)]
    data = pd.concat([ref, foc])
    group = np.r_[["men"] * 1200, ["women"] * 1200]
    table = irt_lr(data, group, "graded", reference="men")
    assert (table["df"] == 4).all()
    assert list(table.index[table["flag"]]) == ["g2"]
    assert table.loc["g2", "sids"] < -0.2


def test_expected_score_effect_equals_a_hand_integral():
    # one 2PL item, a = 1.3; b = 0 in the reference group, 0.5 in the focal group whose latent
    # distribution is N(0.2, 0.8^2): SIDS = E_F[P_F - P_R] and UIDS = E_F|P_F - P_R| by adaptive
    # quadrature of the normal density (scipy.integrate.quad), independent of the 61-node grid
    ref = Calibration.from_item_params(pd.DataFrame({"a": [1.3, 1.0], "b": [0.0, 0.2]}, index=["x", "y"]), "2pl")
    foc = Calibration.from_item_params(pd.DataFrame({"a": [1.3, 1.0], "b": [0.5, 0.2]}, index=["x", "y"]), "2pl")
    import dataclasses
    multi = dataclasses.replace(
        ref, groups=("R", "F"), group_item_params={"R": ref.item_params, "F": foc.item_params},
        group_slope_intercept={"R": ref.slope_intercept, "F": foc.slope_intercept},
        latent_mean=pd.Series([0.0, 0.2], index=["R", "F"]), latent_variance=pd.Series([1.0, 0.64], index=["R", "F"]))

    def p(theta, b):
        return 1 / (1 + math.exp(-1.3 * (theta - b)))

    def density(theta):
        return stats.norm.pdf(theta, 0.2, 0.8)

    sids = integrate.quad(lambda t: (p(t, 0.5) - p(t, 0.0)) * density(t), -10, 10)[0]
    effect = expected_score_effect(multi, "x", "F", pooled_sd=0.5)
    assert effect["sids"] == pytest.approx(sids, abs=1e-4)
    assert effect["uids"] == pytest.approx(-sids, abs=1e-4)       # P_F < P_R everywhere
    assert effect["essd"] == pytest.approx(sids / 0.5, abs=2e-4)
    assert expected_score_effect(multi, "y", "F", pooled_sd=0.5)["sids"] == 0.0


def test_bad_input_raises(with_dif):
    data, group = with_dif
    with pytest.raises(ResponseError, match="anchor item"):
        irt_lr(data, group, anchors=["nope"])
    with pytest.raises(ValueError, match="every item is an anchor|no item left"):
        irt_lr(data, group, anchors=ITEMS)
    with pytest.raises(ValueError, match="scheme"):
        irt_lr(data, group, scheme="both")
    with pytest.raises(ValueError, match="adjust"):
        irt_wald(data, group, adjust="bonferroni")
    with pytest.raises(ResponseError, match="at least two groups"):
        irt_lr(data, np.repeat("R", len(data)))
    small = group.copy()
    small.iloc[:10] = "tiny"
    with pytest.raises(ResponseError, match="tiny.*10 persons"):
        irt_lr(data, small)
    with pytest.raises(ResponseError, match="entries but the responses"):
        irt_wald(data, group.to_numpy()[:-5])
    with pytest.raises(ValueError, match="both anchors and studied"):
        irt_lr(data, group, anchors=["q00"], items=["q00"])
