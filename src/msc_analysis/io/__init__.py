"""io layer: the declared schemas, reading and validating study folders, the data-issues list.

The entry point is :func:`msc_analysis.io.loading.load_study`, which returns a
:class:`msc_analysis.io.loading.Study`.
"""

from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study, load_study

__all__ = ["DataIssues", "Study", "load_study"]
