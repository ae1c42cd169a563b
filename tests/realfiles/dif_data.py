"""A two-scale instrument and data with DIF in one item, for the DIF table/findings tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psychometrics.instrument import Instrument


def two_scale_instrument() -> Instrument:
    items = [{"id": f"g{j}", "text": f"good {j}", "scale": "good", "response": "agree5"} for j in range(1, 7)]
    items += [{"id": f"w{j}", "text": f"weak {j}", "scale": "weak", "response": "agree5"} for j in range(1, 5)]
    return Instrument.from_dict({
        "id": "generated", "version": "1", "title": "Generated",
        "formats": {"agree5": {"type": "likert", "options": [{"code": c, "label": str(c)} for c in range(1, 6)]}},
        "scales": [{"id": "good", "name": "Good"}, {"id": "weak", "name": "Weak"}],
        "items": items,
    })


def frame_with_dif(seed: int = 20261203, n: int = 600) -> pd.DataFrame:
    """g2 two categories easier for group b (large DIF), g4 one category easier for half of b."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n, 2))
    cuts = np.array([-1.5, -0.5, 0.5, 1.5])
    columns = {}
    for j in range(1, 7):
        latent = 1.6 * theta[:, 0] + rng.normal(size=n)
        columns[f"g{j}"] = 1 + (latent[:, None] > cuts * 1.8).sum(axis=1)
    for j in range(1, 5):
        latent = 0.9 * theta[:, 1] + rng.normal(size=n)
        columns[f"w{j}"] = 1 + (latent[:, None] > cuts).sum(axis=1)
    frame = pd.DataFrame(columns, index=pd.Index([f"p{i:04d}" for i in range(n)], name="respondent_id"))
    group = np.where(np.arange(n) % 2 == 0, "a", "b")
    frame["cohort"] = group
    frame.loc[group == "b", "g2"] = np.minimum(frame.loc[group == "b", "g2"] + 2, 5)
    half = (group == "b") & (rng.random(n) < 0.5)
    frame.loc[half, "g4"] = np.minimum(frame.loc[half, "g4"] + 1, 5)
    return frame.reset_index()
