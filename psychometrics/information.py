"""Item and test information curves and the standard-error curve of a calibration.

The calibration supplies the Fisher information of every item at any theta; this module
puts it into the shapes people and reports use (theta x items tables, test curves) and
checks the theta grid it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from psychometrics.irt import Calibration

__all__ = ["item_information", "test_information", "standard_error"]


def _theta_grid(theta: Any) -> np.ndarray:
    values = np.asarray(theta, dtype=np.float64)
    if values.ndim > 1:
        raise ValueError(f"theta must be a number or a one-dimensional sequence, got shape {values.shape}")
    values = np.atleast_1d(values)
    if values.size == 0:
        raise ValueError("theta is empty: give at least one point")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"theta must be finite; position {int(bad[0])} holds {values[bad[0]]!r}")
    return values


def _item_columns(calibration: Any, items: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    item_ids = [str(i) for i in calibration.item_ids]
    if items is None:
        return item_ids, np.arange(len(item_ids))
    if isinstance(items, str):
        items = [items]
    position = {item: j for j, item in enumerate(item_ids)}
    unknown = [str(i) for i in items if str(i) not in position]
    if unknown:
        raise ValueError(f"item(s) {unknown} are not in the calibration (its items: {item_ids})")
    chosen = [str(i) for i in items]
    return chosen, np.array([position[i] for i in chosen], dtype=np.int64)


def _item_matrix(calibration: Any, theta: Any, items: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    grid = _theta_grid(theta)
    names, columns = _item_columns(calibration, items)
    info = np.asarray(calibration.information(grid), dtype=np.float64)[:, columns]
    return grid, info, names


def item_information(calibration: "Calibration", theta: Any, *,
                     items: Sequence[str] | None = None) -> pd.DataFrame:
    r"""Fisher information of each item at each theta.

    Parameters
    ----------
    calibration : Calibration
        Item parameters (:func:`psychometrics.irt.calibrate` or ``Calibration.from_item_params``).
    theta : float or sequence of float
        Finite points on the latent scale, any order.
    items : sequence of str, optional
        Restrict to these items (in this order); default all items of the calibration.

    Returns
    -------
    DataFrame
        One row per theta (index named ``theta``), one column per item.

    Notes
    -----
    .. math:: I_j(\theta) = \sum_{k=0}^{K_j - 1} \frac{P_{jk}'(\theta)^2}{P_{jk}(\theta)}

    which for a 2PL item is :math:`a^2 P (1 - P)` and for a 3PL item
    :math:`a^2 \frac{(P - g)^2 (1 - P)}{(1 - g)^2 P}`.

    References
    ----------
    .. [1] Baker, F. B., & Kim, S.-H. (2004). Item Response Theory: Parameter Estimation
           Techniques (2nd ed.). Marcel Dekker.
    .. [2] Samejima, F. (1969). Estimation of latent ability using a response pattern of
           graded scores. Psychometrika Monograph Supplement, 17.

    Examples
    --------
    >>> import pandas as pd
    >>> from psychometrics.irt import Calibration
    >>> params = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]}, index=["q1", "q2"])
    >>> info = item_information(Calibration.from_item_params(params, "2pl"), [0.0, 1.0])
    >>> info.shape, list(info.columns)
    ((2, 2), ['q1', 'q2'])
    >>> info.loc[1.0].round(4).tolist()
    [0.1966, 1.0]
    """
    grid, info, names = _item_matrix(calibration, theta, items)
    return pd.DataFrame(info, index=pd.Index(grid, name="theta"), columns=names)


def test_information(calibration: "Calibration", theta: Any, *,
                     items: Sequence[str] | None = None, direction: Any = None) -> np.ndarray:
    r"""Test information :math:`I(\theta) = \sum_j I_j(\theta)` at each theta.

    Parameters
    ----------
    calibration : Calibration
    theta : float or sequence of float
    items : sequence of str, optional
        Sum over these items only (a short form); default all items.
    direction : sequence of float, optional
        Multidimensional calibrations only: ``theta`` is then (points, D) and the result the
        information in this direction, shape (points,); without it, the information along
        each factor's axis, shape (points, D)
        (:func:`psychometrics.irt.multidimensional_scoring.directional_information`).

    Returns
    -------
    ndarray
        Shape ``(len(theta),)`` (multidimensional: see ``direction``).

    Notes
    -----
    Item information adds up because responses are conditionally independent given theta.

    References
    ----------
    .. [1] Lord, F. M. (1980). Applications of Item Response Theory to Practical Testing
           Problems, ch. 5. Erlbaum.
    """
    if getattr(calibration, "is_multidimensional", False):
        from psychometrics.irt.multidimensional_scoring import directional_information

        return directional_information(calibration, theta, direction, items)
    if direction is not None:
        raise ValueError("direction= applies to multidimensional calibrations only")
    _, info, _ = _item_matrix(calibration, theta, items)
    return info.sum(axis=1)


test_information.__test__ = False  # keep pytest from collecting the name as a test


def standard_error(calibration: "Calibration", theta: Any, *,
                   items: Sequence[str] | None = None) -> np.ndarray:
    r"""Asymptotic standard error of the ML estimate of theta, :math:`1/\sqrt{I(\theta)}`.

    Returns
    -------
    ndarray
        Shape ``(len(theta),)``; ``inf`` where the test information is zero.

    Notes
    -----
    .. math:: SE(\theta) = \frac{1}{\sqrt{\sum_j I_j(\theta)}}

    References
    ----------
    .. [1] Lord, F. M. (1980). Applications of Item Response Theory to Practical Testing
           Problems, ch. 5. Erlbaum.
    """
    info = test_information(calibration, theta, items=items)
    positive = info > 0.0
    return np.where(positive, 1.0 / np.sqrt(np.where(positive, info, 1.0)), np.inf)
