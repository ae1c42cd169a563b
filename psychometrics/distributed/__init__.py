"""The verbs on data past one machine's memory: Dask DataFrames, partition by partition.

``irt.calibrate``, ``irt.score``, ``ctt.item_analysis`` and ``reliability.alpha`` hand a
Dask DataFrame to the drivers here. Each driver maps one of the in-memory kernels over the
partitions (on the workers, next to the data), brings back only plain sums over persons and
finishes on the client with the in-memory code, so the results equal the in-memory ones to
rounding, whatever the partitioning. They run on the active ``dask.distributed`` client, or on
Dask's local scheduler when there is none. Dask is imported only in this package.
"""

from __future__ import annotations

from psychometrics.distributed.calibration import calibrate
from psychometrics.distributed.moments import alpha, item_analysis
from psychometrics.distributed.scoring import score

__all__ = ["alpha", "calibrate", "item_analysis", "score"]
