"""The data-issues list: every warning and every excluded record, with its reason.

Loaders, validators, derivations and analyses all write to one :class:`DataIssues` so that no
record leaves an analysis without a line saying which, where and why. The report writes it as
``data_issues.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from msc_analysis.csv_cells import neutralise_frame, write_frame

Severity = Literal["error", "warning", "excluded", "note"]

ISSUE_COLUMNS: tuple[str, ...] = (
    "source", "file", "row", "usubjid", "variable", "rule", "severity", "message",
)


@dataclass
class DataIssues:
    """An append-only collection of data issues.

    Each issue names the step that found it (``source``, e.g. ``validate`` or ``PP-SESS``), the
    file and 1-based data row (blank when not tied to a row), the subject, the variable, the
    rule broken (a short code such as ``controlled-term``) and a message a reader understands.
    """

    _rows: list[dict[str, object]] = field(default_factory=list, repr=False)

    def add(
        self,
        *,
        source: str,
        rule: str,
        message: str,
        severity: Severity = "warning",
        file: str = "",
        row: int | None = None,
        usubjid: str = "",
        variable: str = "",
    ) -> None:
        """Record one issue."""
        self._rows.append(
            {
                "source": source,
                "file": file,
                "row": "" if row is None else int(row),
                "usubjid": usubjid,
                "variable": variable,
                "rule": rule,
                "severity": severity,
                "message": message,
            }
        )

    def extend(self, other: DataIssues) -> None:
        """Append every issue of ``other``."""
        self._rows.extend(other._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def errors(self) -> list[dict[str, object]]:
        """The issues of severity ``error``."""
        return [r for r in self._rows if r["severity"] == "error"]

    def frame(self) -> pd.DataFrame:
        """All issues as a frame with :data:`ISSUE_COLUMNS`, in the order they were found."""
        frame = pd.DataFrame(self._rows, columns=list(ISSUE_COLUMNS))
        return frame.astype({c: str for c in ISSUE_COLUMNS})

    def write(self, path: object) -> None:
        """Write the issues as CSV (header only when there are none), text cells neutralised
        against formula injection (:mod:`msc_analysis.csv_cells`, whose
        :func:`~msc_analysis.csv_cells.read_csv` reads them back)."""
        from pathlib import Path

        target = Path(str(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        write_frame(neutralise_frame(self.frame()), target)
