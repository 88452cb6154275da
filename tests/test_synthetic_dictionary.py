"""data/synthetic/README.md's data dictionary equals the text generated from the schemas."""

from __future__ import annotations

from pathlib import Path

from msc_analysis.io.schema import SCHEMAS, SCREENING_LOG
from msc_analysis.synthetic import data_dictionary_markdown
from msc_analysis.synthetic.dictionary import dataset_table, embedded_dictionary

README = Path(__file__).resolve().parents[1] / "data" / "synthetic" / "README.md"


def test_readme_dictionary_matches_schemas() -> None:
    text = README.read_text(encoding="utf-8")
    embedded = embedded_dictionary(text)
    assert embedded, "README has no dictionary markers"
    assert embedded == data_dictionary_markdown()


def test_dictionary_lists_every_variable_once() -> None:
    text = data_dictionary_markdown()
    for schema in (*SCHEMAS.values(), SCREENING_LOG):
        table = dataset_table(schema)
        assert table in text
        rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
        assert [r.split(" | ")[0].removeprefix("| ") for r in rows] == list(schema.names)


def test_dictionary_row_content() -> None:
    table = dataset_table(SCHEMAS["ADLB"])
    assert "| ATPT | char | Analysis Timepoint |  | `PRE`, `POST`, blank |  |" in table
    assert "| USUBJID | char | Unique Subject Identifier |  |  | yes |" in table
    assert "| SESSNUM | int | Session Number |  | 1 to 50 |  |" in table
