"""A nominal calibration of slider items (many categories, few persons per category slope) is
never reported as fine: it warns about the sample size and, when EM stops, about convergence
(issue 9, part 5)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from psychometrics import irt
from psychometrics.data import load_responses
from psychometrics.errors import ConvergenceWarning, ModelWarning


def test_nominal_on_sliders_says_it_is_not_trustworthy():
    rng = np.random.default_rng(5)
    persons, items, top = 300, 3, 30
    theta = rng.standard_normal(persons)
    latent = 0.7 * theta[:, None] + 0.7 * rng.standard_normal((persons, items))
    codes = np.clip(np.round(top / 2 + latent * top / 6), 0, top)
    frame = pd.DataFrame(codes, columns=[f"slider{j + 1}" for j in range(items)])
    responses = load_responses(frame, max_categories=top + 1, warn=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calibration = irt.calibrate(responses, "nominal", max_iter=10)
    messages = [(w.category, str(w.message)) for w in caught]
    assert not calibration.converged
    assert (ConvergenceWarning, "EM did not converge in 10 iterations (tol 0.0001); the estimates are not "
            "trustworthy, raise max_iter or check the data") in messages
    n_free = calibration.n_parameters
    assert any(c is ModelWarning and re.fullmatch(
        rf"300 persons for {n_free} free parameters: fewer than 5 per parameter, the estimates are not trustworthy", m)
        for c, m in messages)
    assert list(calibration.problems["problem"]) == ["too_few_persons"]
