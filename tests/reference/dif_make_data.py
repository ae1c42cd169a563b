"""Writes the small data sets behind the DIF reference values (dif_reference.R).

python tests/reference/dif_make_data.py   # rewrites dif_binary.csv and dif_ordinal.csv

Binary: 2PL, 300 persons per group, 6 items, item b1 uniformly harder (0.7 logits) for group
"f". Ordinal: graded model, 250 persons per group, 4 items with categories 0-3, item o1
shifted by 0.6 logits for group "f". No missing responses (the R side matches on the plain
total score).
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(5150)
    n = 300
    group = np.repeat(["r", "f"], n)
    theta = rng.normal(size=2 * n)
    a = np.array([1.2, 0.8, 1.5, 1.0, 1.3, 0.9])
    b = np.array([0.0, -0.8, 0.5, -0.3, 1.0, 0.2])
    shift = np.zeros((2 * n, 6))
    shift[n:, 0] = 0.7
    p = 1 / (1 + np.exp(-a * (theta[:, None] - b - shift)))
    x = (rng.random(p.shape) < p).astype(int)
    lines = ["group," + ",".join(f"b{j + 1}" for j in range(6))]
    lines += [g + "," + ",".join(map(str, row)) for g, row in zip(group, x)]
    (HERE / "dif_binary.csv").write_text("\n".join(lines) + "\n")

    n = 250
    group = np.repeat(["r", "f"], n)
    theta = rng.normal(size=2 * n)
    a = np.array([1.4, 1.0, 1.2, 0.9])
    thresholds = np.array([[-1.5, 0.0, 1.2], [-1.0, 0.2, 1.5], [-1.8, -0.4, 0.8], [-1.2, 0.3, 1.0]])
    shift = np.zeros((2 * n, 4))
    shift[n:, 0] = 0.6
    cumulative = 1 / (1 + np.exp(-a[None, :, None] * (theta[:, None, None] - thresholds[None] - shift[:, :, None])))
    u = rng.random((2 * n, 4))
    y = (u[:, :, None] < cumulative).sum(axis=2)
    lines = ["group," + ",".join(f"o{j + 1}" for j in range(4))]
    lines += [g + "," + ",".join(map(str, row)) for g, row in zip(group, y)]
    (HERE / "dif_ordinal.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
