"""The factor-correlation heat map of the multidimensional (profile) model of a validation.

Kept apart from :mod:`psychometrics.report.figures` (whose helpers it uses) so that the profile
model's figure evolves with :mod:`psychometrics.workflows.profile`. matplotlib is imported here
only through those helpers.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from psychometrics.report.figures import Chart, _figure, _pyplot, _to_svg

__all__ = ["correlation_heatmap"]


def correlation_heatmap(correlations: pd.DataFrame, *, chart_id: str, labels: Mapping[str, str] | None = None,
                        label: str = "Factor correlations") -> Chart:
    """Scale x scale latent correlations as a heat map (diverging, -1 blue to +1 red), every
    correlation printed in its cell, the matrix itself as the chart's table."""
    plt = _pyplot()
    n = correlations.shape[0]
    names = [labels.get(str(s), str(s)) if labels else str(s) for s in correlations.index]
    fig, axes, style = _figure(1, 1, panel=(1.6 + 0.55 * n, 1.0 + 0.45 * n))
    ax = axes[0]
    values = correlations.to_numpy(dtype=np.float64)
    with plt.rc_context(style):
        image = ax.imshow(values, cmap="RdBu_r", vmin=-1, vmax=1, aspect="equal")
        ax.set_xticks(range(n))
        ax.set_xticklabels(names, rotation=45, ha="right")
        ax.set_yticks(range(n))
        ax.set_yticklabels(names)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6.5,
                        color="white" if abs(values[i, j]) > 0.6 else "black")
        ax.spines[:].set_visible(False)
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        bar.ax.tick_params(labelsize=6)
        bar.set_label("correlation", fontsize=7)
        fig.tight_layout()
    off = values[np.triu_indices(n, 1)]
    title = f"{label} heat map"
    description = (f"Heat map of the latent correlations of {n} scales (rows and columns in the same order); colour "
                   "runs from blue (-1) through white (0) to red (+1); each cell shows its correlation. "
                   f"Off-diagonal correlations range from {off.min():.2f} to {off.max():.2f}.")
    table = correlations.copy()
    table.index = pd.Index(names, name="scale")
    table.columns = names
    return Chart(chart_id, title, description,
                 f"{label} of the scales as one correlated-factors IRT model: distinct skills correlate clearly "
                 "below 1; above 0.90 two scales may measure the same trait.", _to_svg(fig, chart_id, title, description),
                 [(label, table)])
