"""Writes the small data set behind the lme4 reference of the dichotomous facets model.

python tests/reference/facets_make_data.py   # rewrites facets_binary.csv

120 persons (theta ~ N(0, 1.1^2)), 6 items, 4 raters; each person is rated by 3 of the 4
raters (the missing one rotates), so ratings are missing by design. Columns: person, item,
rater, y (0/1). Reference values: facets_glmer.R.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(1604)
    n_persons, items, raters = 120, ["i1", "i2", "i3", "i4", "i5", "i6"], ["ra", "rb", "rc", "rd"]
    theta = rng.normal(0.0, 1.1, n_persons)
    b = np.array([-1.0, -0.5, 0.0, 0.3, 0.7, 1.2])
    s = np.array([-0.6, -0.1, 0.2, 0.5])
    lines = ["person,item,rater,y"]
    for p in range(n_persons):
        for r, rater in enumerate(raters):
            if r == p % 4:
                continue
            for i, item in enumerate(items):
                prob = 1.0 / (1.0 + np.exp(-(theta[p] - b[i] - s[r])))
                lines.append(f"p{p + 1:03d},{item},{rater},{int(rng.random() < prob)}")
    (HERE / "facets_binary.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
