"""The layout of SAS transport files (io.xport) and the field counts of CSV files (io.csv_shape):
damaged files are refused, good ones (the CDISC pilot's) read in full."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from msc_analysis.errors import DataError
from msc_analysis.io import readers
from msc_analysis.io.csv_shape import (
    ControlCharacterError,
    FieldCountError,
    check_fields,
    field_counts,
)
from msc_analysis.io.loading import load_study
from msc_analysis.io.xport import XportLayoutError, check_record_count, xport_layout

PILOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cdisc_pilot01"
#: Records of the pilot's files (SOURCE.md).
PILOT_RECORDS = {"adsl.xpt": 254, "adae.xpt": 1191, "adlbc.xpt": 74264, "adlbh.xpt.gz": 49932,
                 "advs.xpt.gz": 32139}


def _bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


@pytest.mark.skipif(not PILOT.is_dir(), reason="CDISC pilot data not available")
@pytest.mark.parametrize("name", sorted(PILOT_RECORDS))
def test_pilot_layouts_give_the_published_record_counts(name: str) -> None:
    layout = xport_layout(_bytes(PILOT / name))
    assert layout.version == 5
    assert layout.records == layout.fewest == PILOT_RECORDS[name]


def _write_v5(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "adsl.xpt"
    pyreadstat.write_xport(frame, str(path), table_name="ADSL", file_format_version=5)
    return path


def test_short_records_and_blank_padding(tmp_path: Path) -> None:
    # 4-byte character records: 3 records (12 bytes) and 68 blanks of padding in one card. The
    # two blank records cannot be told from padding (SAS's own reader drops them), so any count
    # from 1 to 20 is what the file may hold.
    frame = pd.DataFrame({"USUBJID": ["S1", "", ""], "SEX": ["M", "", ""],
                          "PAD": ["x", "", ""]})
    data = _write_v5(tmp_path, frame).read_bytes()
    layout = xport_layout(data)
    assert layout.record_length == 4
    assert (layout.fewest, layout.records) == (1, 20)
    check_record_count(layout, 3)
    with pytest.raises(XportLayoutError, match="the reader returned 21 record"):
        check_record_count(layout, 21)


def test_a_reader_stopping_early_is_refused(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # pyreadstat (used for small records and version 8) may stop early without a word.
    frame = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"], "AGE": [30.0, 40.0, 50.0]})
    _write_v5(tmp_path, frame)
    real = readers._read_xpt_pyreadstat

    def early(path: Path, data: bytes) -> tuple[pd.DataFrame, dict[str, object]]:
        read, formats = real(path, data)
        return read.iloc[:2], formats

    monkeypatch.setattr(readers, "_read_xpt_pyreadstat", early)
    with pytest.raises(DataError, match=r"adsl.xpt: rule file-layout: refused .*the reader "
                                        r"returned 2 record\(s\), the file holds 3, of 10"):
        load_study(tmp_path)


def test_version_8_count_is_checked(tmp_path: Path) -> None:
    frame = pd.DataFrame({"USUBJID": ["S1", "S2"], "AGE": [30.0, 40.0]})
    path = tmp_path / "adsl.xpt"
    pyreadstat.write_xport(frame, str(path), table_name="ADSL", file_format_version=8)
    data = path.read_bytes()
    assert xport_layout(data).promised == 2
    at = data.index(b"OBSV8   HEADER RECORD!!!!!!!") + 28
    with pytest.raises(XportLayoutError, match="promises 1 record") as caught:
        xport_layout(data[:at] + b"%15d" % 1 + data[at + 15:])
    assert caught.value.rule == "file-layout"


@pytest.mark.parametrize(("cut", "message"), [
    (200, "inside its headers"),
    (700, "inside the descriptors"),
])
def test_files_cut_in_their_headers(tmp_path: Path, cut: int, message: str) -> None:
    data = _write_v5(tmp_path, pd.DataFrame({"USUBJID": ["S1"], "AGE": [30.0]})).read_bytes()
    with pytest.raises(XportLayoutError, match=message) as caught:
        xport_layout(data[:cut])
    assert caught.value.rule == "file-truncated"


def test_impossible_sas_date_is_refused_with_its_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"USUBJID": ["S1", "S2"], "TRTSDT": [23803.0, 1e9], "PAD": ["x" * 90] * 2})
    pyreadstat.write_xport(frame, str(tmp_path / "adsl.xpt"), table_name="ADSL",
                           file_format_version=5, variable_format={"TRTSDT": "DATE9."})
    with pytest.raises(DataError, match=r"adsl\.xpt data row 2: variable TRTSDT, rule "
                                        r"impossible-value"):
        load_study(tmp_path)


@pytest.mark.parametrize(("text", "counts", "blank"), [
    (b"A,B\n1,2\n", [2, 2], [False, False]),
    (b"A,B\r\n1,2\r\n\r\n3,4", [2, 2, 1, 2], [False, False, True, False]),
    (b'A,B\n"x,y",2\n"multi\nline","a ""quoted"" word"\n', [2, 2, 2], [False] * 3),
    (b"A,B\n1\n1,2,3\n", [2, 1, 3], [False] * 3),
    (b"A,B\r1,2\r", [2, 2], [False, False]),
])
def test_field_counts_follow_csv_quoting(text: bytes, counts: list[int],
                                         blank: list[bool]) -> None:
    found, blanks = field_counts(text)
    assert found.tolist() == counts
    assert blanks.tolist() == blank


def test_field_count_error_names_rows(tmp_path: Path) -> None:
    path = tmp_path / "adae.csv"
    path.write_bytes(b"A,B,C\n1,2,3\n1,2\n\n1,2,3,4\n")
    with pytest.raises(FieldCountError) as caught:
        check_fields(path)
    assert caught.value.rows == [(2, 2), (4, 4)]
    assert str(caught.value).startswith("the header has 3 field(s) but data row 2 has 2; data "
                                        "row 4 has 4")


def test_field_counts_of_many_records() -> None:
    line = b"NCT06904755,NCT06904755-01-001,TBIL,Total Bilirubin (umol/L),380.1,umol/L\n"
    data = line * 200_000
    counts, blank = field_counts(data)
    assert np.all(counts == 6) and not blank.any()


@pytest.mark.parametrize(("text", "row", "variable", "code"), [
    (b"A,B\n1,x\x07y\n", 1, "B", "U+0007 (BEL)"),
    (b'a,"b"\n1,2\n"3,\x1b[0m",4\n', 2, "A", "U+001B (ESC)"),
    (b"A,B\r\n1,2\r\n\x00\x00\x00", 2, "A", "U+0000 (NUL)"),
])
def test_control_characters_are_refused_with_row_and_variable(
        tmp_path: Path, text: bytes, row: int, variable: str, code: str) -> None:
    path = tmp_path / "adae.csv"
    path.write_bytes(text)
    with pytest.raises(ControlCharacterError, match=re.escape(code)) as caught:
        check_fields(path)
    assert (caught.value.row, caught.value.variable) == (row, variable)


def test_tabs_and_line_ends_in_values_are_text(tmp_path: Path) -> None:
    path = tmp_path / "adae.csv"
    path.write_bytes(b'A,B\r\n1,"two\tthree\r\nfour"\r\n')
    check_fields(path)
