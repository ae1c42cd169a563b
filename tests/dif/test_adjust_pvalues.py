"""Multiple-testing adjustment shared by DIF, item fit and the validation workflow."""

import numpy as np

from psychometrics.dif import adjust_pvalues


def _holm(p):
    return adjust_pvalues(p, "holm")


def test_holm_with_missing_matches_p_adjust():
    # p.adjust(c(0.01, 0.04, NA, 0.03, 0.005, 0.2, 0.0001), method = "holm")
    adjusted = _holm([0.01, 0.04, np.nan, 0.03, 0.005, 0.2, 0.0001])
    expected = [0.04, 0.09, np.nan, 0.09, 0.025, 0.2, 0.0006]
    np.testing.assert_allclose(adjusted, expected, rtol=1e-12, equal_nan=True)
    assert _holm([]).shape == (0,)
    assert np.isnan(_holm([np.nan])).all()
    assert _holm([0.6, 0.7]).max() == 1.0
