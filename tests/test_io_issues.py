"""The data-issues list keeps every issue, in order, with its columns."""

from __future__ import annotations

import pandas as pd

from msc_analysis.io.issues import ISSUE_COLUMNS, DataIssues


def test_issues_round_trip(tmp_path) -> None:
    issues = DataIssues()
    issues.add(source="validate", rule="controlled-term", message="SEX 'X' not allowed",
               file="adsl.csv", row=3, usubjid="S-001", variable="SEX", severity="error")
    other = DataIssues()
    other.add(source="PP-SESS", rule="no-post-value", message="no POST sample", severity="excluded")
    issues.extend(other)
    assert len(issues) == 2
    assert [e["variable"] for e in issues.errors()] == ["SEX"]
    path = tmp_path / "issues.csv"
    issues.write(path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert tuple(back.columns) == ISSUE_COLUMNS
    assert list(back["row"]) == ["3", ""]
    assert list(back["severity"]) == ["error", "excluded"]


def test_empty_issues_write_a_header(tmp_path) -> None:
    path = tmp_path / "none.csv"
    DataIssues().write(path)
    assert path.read_text().strip() == ",".join(ISSUE_COLUMNS)
