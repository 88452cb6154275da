"""The corpus of bad and hostile inputs, each run through the command line.

Every class copies ``data/synthetic`` (or two of the CDISC pilot's SAS transport files) into
``tmp_path``, breaks one thing and runs :func:`msc_analysis.cli.main`: the ``validate`` verb for
every class, and the ``report`` verb for a representative subset (every ``sap.toml`` class,
since only the report reads the settings, a refused class of each reader, and one accepted class
built in full). A class is either

- *refused*: exit status 1, a message starting ``error:`` that names the file, the data row
  (where there is one), the variable and the rule, and no traceback; or
- *accepted*: exit status 0, and every record accounted for: for each dataset, the records kept
  (the summary's row count) plus the records listed as excluded in the data issues equal the
  records in the input files, counted here independently of the package's readers.

Each class has an id and a one-line description (``CASES``, ``SAP_CASES``).
"""

from __future__ import annotations

import builtins
import csv
import gzip
import io
import os
import shutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest

from msc_analysis.cli import main

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = REPO / "data" / "synthetic"
PILOT = REPO.parent / "shared" / "data" / "cdisc_pilot01"
SAP = REPO / "sap" / "sap.toml"
EVERY_ANALYSIS = "safety,labs,efficacy,exposure,vitals,report"
#: Offset of the first record of the pilot's adae.xpt (55 variables), and its record length.
ADAE_DATA_START, ADAE_RECORD = 8480, 592

Make = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One class of bad input.

    ``rule`` empty: the input must be accepted (``note``: a rule the data issues must list).
    Otherwise it must be refused naming ``file``, ``row`` (None: no row), ``variable`` (""
    when the rule concerns no variable), ``rule`` and, when given, ``text``.
    """

    id: str
    description: str
    make: Make
    file: str = ""
    rule: str = ""
    row: int | None = None
    variable: str = ""
    text: str = ""
    note: str = ""
    base: str = "synthetic"
    analyses: str = EVERY_ANALYSIS
    report: bool = False


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------

def _frame(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")


def cell(name: str, row: int, variable: str, value: str) -> Make:
    """Set data row ``row`` (1-based) of ``variable`` in ``name``.csv to ``value``."""
    def make(folder: Path) -> None:
        frame = _frame(folder, name)
        frame.loc[row - 1, variable] = value
        _write(folder, name, frame)
    return make


def column(name: str, variable: str, change: Callable[[pd.Series], pd.Series]) -> Make:
    def make(folder: Path) -> None:
        frame = _frame(folder, name)
        frame[variable] = change(frame[variable])
        _write(folder, name, frame)
    return make


def frame_edit(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Make:
    def make(folder: Path) -> None:
        _write(folder, name, change(_frame(folder, name)))
    return make


def text_edit(name: str, change: Callable[[str], str]) -> Make:
    def make(folder: Path) -> None:
        path = folder / name
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8",
                        newline="")
    return make


def byte_edit(name: str, change: Callable[[bytes], bytes]) -> Make:
    def make(folder: Path) -> None:
        path = folder / name
        path.write_bytes(change(path.read_bytes()))
    return make


def lines_edit(name: str, change: Callable[[list[str]], list[str]]) -> Make:
    return text_edit(name, lambda text: "\n".join(change(text.split("\n"))))


def remove(name: str) -> Make:
    return lambda folder: (folder / name).unlink()


def both(*steps: Make) -> Make:
    def make(folder: Path) -> None:
        for step in steps:
            step(folder)
    return make


def replace_line(index: int, new: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        lines[index] = new(lines[index])
        return lines
    return change


def _directory(name: str) -> Make:
    def make(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()
    return make


def _symlink_loop(name: str) -> Make:
    def make(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).symlink_to(name)
    return make


def _dangling(name: str) -> Make:
    def make(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).symlink_to("gone.csv")
    return make


def _to_parquet(name: str, change: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f) -> Make:
    def make(folder: Path) -> None:
        frame = _frame(folder, name)
        change(frame).to_parquet(folder / f"{name}.parquet", index=False)
        (folder / f"{name}.csv").unlink()
    return make


def _typed_adae(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["AESEQ"] = frame["AESEQ"].astype(int)
    frame["ASTDT"] = pd.to_datetime(frame["ASTDT"]).astype("datetime64[us]")
    return frame


def _far_date(frame: pd.DataFrame) -> pd.DataFrame:
    frame = _typed_adae(frame)
    frame.loc[2, "ASTDT"] = pd.Timestamp("2999-01-01").as_unit("us")
    return frame


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["AEDECOD"] = frame["AEDECOD"].astype("category")
    frame["AEBODSYS"] = frame["AEBODSYS"].astype("category")
    return frame


def _gzip(name: str, change: Callable[[bytes], bytes] = lambda b: b) -> Make:
    def make(folder: Path) -> None:
        path = folder / name
        path.with_name(name + ".gz").write_bytes(change(gzip.compress(path.read_bytes(),
                                                                       mtime=0)))
        path.unlink()
    return make


def _flip_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[
        middle + 64:]


def _second_member(folder: Path) -> None:
    adae = folder / "adae.xpt"
    adae.write_bytes(adae.read_bytes() + (folder / "adsl.xpt").read_bytes()[240:])


def _xpt_v8_promising(extra: int) -> Make:
    def make(folder: Path) -> None:
        frame = _frame(folder, "adae")
        path = folder / "adae.xpt"
        pyreadstat.write_xport(frame, str(path), table_name="ADAE", file_format_version=8)
        data = path.read_bytes()
        at = data.index(b"HEADER RECORD*******OBSV8   HEADER RECORD!!!!!!!")
        count = f"{len(frame) + extra:15d}".encode()
        path.write_bytes(data[:at + 48] + count + data[at + 63:])
        (folder / "adae.csv").unlink()
    return make


def _namestr_count(data: bytes) -> bytes:
    card = 7 * 80
    return data[:card + 52] + b"000054" + data[card + 58:]


def _cut(count: int) -> Callable[[bytes], bytes]:
    return lambda data: data[:count]


def _latin1_term(folder: Path) -> None:
    path = folder / "adae.csv"
    path.write_bytes(path.read_bytes().replace(b"Perioral tingling", "Périoral".encode("latin1")))


def _utf16(folder: Path) -> None:
    path = folder / "adae.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))


def _headers_lower(lines: list[str]) -> list[str]:
    lines[0] = lines[0].lower()
    return lines


def _insert(index: int, line: str) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        lines.insert(index, line)
        return lines
    return change


def _duplicate_row(index: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda frame: pd.concat([frame, frame.iloc[[index]]], ignore_index=True)


def _header_only(name: str) -> Make:
    return lines_edit(name, lambda lines: [lines[0], ""])


def _tbil_lower(values: pd.Series) -> pd.Series:
    return values.replace("TBIL", "tbil")


def _pilot_folder(folder: Path) -> None:
    folder.mkdir()
    for name in ("adsl.xpt", "adae.xpt"):
        shutil.copy(PILOT / name, folder / name)
        (folder / name).chmod(0o644)


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------

R = "PARAMCD"
CASES: tuple[Case, ...] = (
    # Files and folders
    Case("adsl-missing", "no ADSL file in the folder", remove("adsl.csv"),
         file="synthetic", rule="dataset-missing", text="no ADSL file"),
    Case("adae-missing", "no ADAE file while the safety analyses need it", remove("adae.csv"),
         file="synthetic", rule="dataset-missing", text="no ADAE file", analyses="safety"),
    Case("empty-file", "adae.csv is 0 bytes", byte_edit("adae.csv", lambda b: b""),
         file="adae.csv", rule="file-unreadable", text="the file is empty", report=True),
    Case("zero-subjects", "adsl.csv holds the header only (a study without subjects)",
         _header_only("adsl.csv"), file="adsl.csv", rule="dataset-empty", report=True),
    Case("header-only-adae", "adae.csv holds the header only (no adverse events)",
         _header_only("adae.csv")),
    Case("adae-is-a-folder", "adae.csv is a folder", _directory("adae.csv"),
         file="adae.csv", rule="file-unreadable", text="is a folder"),
    Case("symlink-loop", "adae.csv is a symbolic link to itself", _symlink_loop("adae.csv"),
         file="adae.csv", rule="file-unreadable", text="symbolic links"),
    Case("dangling-symlink", "adae.csv is a link to a missing file", _dangling("adae.csv"),
         file="adae.csv", rule="file-unreadable", text="No such file"),
    Case("unreadable-file", "adae.csv cannot be opened (permission denied)", lambda f: None,
         file="adae.csv", rule="file-unreadable", text="Permission denied"),
    Case("two-files-one-dataset", "adsl.csv and adsl.parquet both present",
         lambda f: _frame(f, "adsl").to_parquet(f / "adsl.parquet"),
         file="adsl.csv", rule="file-duplicate"),
    Case("adlb-whole-and-parts", "adlb.csv and adlbc.csv both present",
         lambda f: shutil.copy(f / "adlb.csv", f / "adlbc.csv"),
         file="adlb.csv", rule="file-duplicate", text="whole and in parts"),
    # CSV structure and encoding
    Case("semicolon-delimiter", "adae.csv separated by semicolons",
         text_edit("adae.csv", lambda t: t.replace(",", ";")),
         file="adae.csv", rule="delimiter", text="semicolons"),
    Case("tab-delimiter", "adsl.csv separated by tabs",
         text_edit("adsl.csv", lambda t: t.replace(",", "\t")),
         file="adsl.csv", rule="delimiter", text="tabs"),
    Case("utf8-bom", "adae.csv starts with a UTF-8 byte-order mark",
         byte_edit("adae.csv", lambda b: b"\xef\xbb\xbf" + b)),
    Case("latin1-text", "adae.csv holds a Latin-1 (not UTF-8) e-acute",
         _latin1_term, file="adae.csv", rule="file-unreadable", text="byte 0xE9 on line 3",
         report=True),
    Case("utf16-file", "adae.csv saved as UTF-16", _utf16, file="adae.csv",
         rule="file-unreadable", text="not UTF-8"),
    Case("crlf-line-ends", "adlb.csv with Windows line ends",
         text_edit("adlb.csv", lambda t: t.replace("\n", "\r\n"))),
    Case("duplicate-column", "AVAL twice in the header of adlb.csv",
         lines_edit("adlb.csv", lambda ls: [ls[0].replace("AVALU", "AVAL"), *ls[1:]]),
         file="adlb.csv", rule="variable-duplicate", variable="AVAL"),
    Case("duplicate-column-case", "AVAL and aval in the header of adlb.csv",
         lines_edit("adlb.csv", lambda ls: [ls[0].replace("AVALU", "aval"), *ls[1:]]),
         file="adlb.csv", rule="variable-duplicate", variable="AVAL"),
    Case("missing-variable", "adae.csv without USUBJID",
         frame_edit("adae", lambda f: f.drop(columns=["USUBJID"])),
         file="adae.csv", rule="variable-missing", variable="USUBJID"),
    Case("lower-case-header", "every variable name of adsl.csv in lower case",
         lines_edit("adsl.csv", _headers_lower)),
    Case("short-row", "data row 5 of adex.csv lacks its last two fields",
         lines_edit("adex.csv", replace_line(5, lambda ln: ln.rsplit(",", 2)[0])),
         file="adex.csv", rule="field-count", row=5, text="data row 5 has 9"),
    Case("long-row", "data row 3 of adae.csv has an extra field",
         lines_edit("adae.csv", replace_line(3, lambda ln: ln + ",EXTRA")),
         file="adae.csv", rule="field-count", row=3, text="data row 3 has 24"),
    Case("trailing-delimiter", "every data row of adsl.csv ends with a comma",
         lines_edit("adsl.csv", lambda ls: [ls[0]] + [ln + "," if ln else ln for ln in ls[1:]]),
         file="adsl.csv", rule="field-count", row=1),
    Case("csv-cut-short", "adlb.csv cut in the middle of its last record",
         byte_edit("adlb.csv", lambda b: b[: len(b) - 40]),
         file="adlb.csv", rule="field-count", row=1337),
    Case("unclosed-quote", "a quote opened in data row 2 of adae.csv is never closed",
         lines_edit("adae.csv", replace_line(2, lambda ln: ln.replace(",Perioral", ',"Perioral'))),
         file="adae.csv", rule="field-count", row=2),
    Case("blank-line-inside", "a blank line between data rows 2 and 3 of adae.csv",
         lines_edit("adae.csv", _insert(3, "")),
         file="adae.csv", rule="missing-value", row=3, variable="USUBJID"),
    Case("blank-lines-at-end", "three blank lines at the end of adae.csv",
         text_edit("adae.csv", lambda t: t + "\n\n\n"), note="reader"),
    Case("newline-in-cell", "a quoted AE term with a line break in adae.csv",
         cell("adae", 2, "AETERM", "Perioral\ntingling")),
    Case("nul-byte-in-cell", "an AE term holding a NUL byte",
         cell("adae", 2, "AETERM", "Perioral\x00tingling"), file="adae.csv",
         rule="control-character", row=2, variable="AETERM", text="U+0000 (NUL)"),
    Case("nul-filled-tail", "the end of adex.csv overwritten with NUL bytes (a crash)",
         byte_edit("adex.csv", lambda b: b[:-300] + b"\x00" * 300), file="adex.csv",
         rule="control-character", row=19, variable="SESSSTAT", text="U+0000 (NUL)"),
    Case("control-characters", "an AE term holding a bell and an escape sequence",
         cell("adae", 2, "AETERM", "tingling\x07\x1b[31m"), file="adae.csv",
         rule="control-character", row=2, variable="AETERM", text="U+0007 (BEL)"),
    Case("formula-cell", "an AE term starting with a spreadsheet formula",
         cell("adae", 2, "AETERM", '=HYPERLINK("http://x.invalid","click")')),
    Case("html-script", "an AE term holding HTML and a script",
         cell("adae", 2, "AEDECOD", "<script>alert('x')</script><b>Paraesthesia</b>")),
    Case("very-long-text", "an AE term of 100,000 characters",
         cell("adae", 2, "AETERM", "tingling " * 11_111)),
    Case("unicode-text", "AE terms with emoji, right-to-left and combining characters",
         cell("adae", 2, "AETERM", "Fièvre 🔥 \u202eevila\u202c e\u0301")),
    # Numbers
    Case("text-in-number", "AVAL 'high' in adlb.csv", cell("adlb", 2, "AVAL", "high"),
         file="adlb.csv", rule="type", row=2, variable="AVAL"),
    Case("nan-text", "AVAL 'NaN' in adlb.csv", cell("adlb", 2, "AVAL", "NaN"),
         file="adlb.csv", rule="type", row=2, variable="AVAL"),
    Case("infinity", "AVAL 'inf' in adlb.csv", cell("adlb", 2, "AVAL", "inf"),
         file="adlb.csv", rule="type", row=2, variable="AVAL"),
    Case("overflow", "AVAL 1e400 (beyond double precision) in adlb.csv",
         cell("adlb", 2, "AVAL", "1e400"), file="adlb.csv", rule="type", row=2,
         variable="AVAL"),
    Case("negative-zero", "a bilirubin AVAL of -0 in adlb.csv", cell("adlb", 2, "AVAL", "-0"),
         file="adlb.csv", rule="impossible-value", row=2, variable="AVAL", report=True),
    Case("zero-concentration", "a bilirubin AVAL of 0", cell("adlb", 2, "AVAL", "0"),
         file="adlb.csv", rule="impossible-value", row=2, variable="AVAL"),
    Case("huge-number", "a bilirubin AVAL of 1e300 (it overflowed the report's statistics)",
         cell("adlb", 4, "AVAL", "1e300"), file="adlb.csv", rule="impossible-value", row=4,
         variable="AVAL", text="at most 10000"),
    Case("negative-concentration", "a CRP AVAL of -5", cell("adlb", 43, "AVAL", "-5"),
         file="adlb.csv", rule="impossible-value", row=43, variable="AVAL"),
    Case("decimal-comma", "AVAL '359,5' (decimal comma)", cell("adlb", 2, "AVAL", "359,5"),
         file="adlb.csv", rule="type", row=2, variable="AVAL"),
    Case("thousands-separator", "PLVOL '5,860'", cell("adex", 1, "PLVOL", "5,860"),
         file="adex.csv", rule="type", row=1, variable="PLVOL"),
    Case("fraction-in-integer", "SESSNUM 1.5 in adex.csv", cell("adex", 2, "SESSNUM", "1.5"),
         file="adex.csv", rule="type", row=2, variable="SESSNUM"),
    Case("negative-age", "AGE -3 in adsl.csv", cell("adsl", 4, "AGE", "-3"),
         file="adsl.csv", rule="impossible-value", row=4, variable="AGE"),
    Case("huge-age", "AGE 1e9 in adsl.csv", cell("adsl", 4, "AGE", "1e9"),
         file="adsl.csv", rule="impossible-value", row=4, variable="AGE"),
    Case("negative-duration", "EXDUR -10 minutes in adex.csv", cell("adex", 3, "EXDUR", "-10"),
         file="adex.csv", rule="impossible-value", row=3, variable="EXDUR"),
    # Codes and units
    Case("unknown-unit", "bilirubin AVALU 'furlongs'", cell("adlb", 2, "AVALU", "furlongs"),
         file="adlb.csv", rule="unit-unknown", row=2, variable="AVALU"),
    Case("other-unit-converted", "bilirubin given in mg/dL (converted, listed)",
         both(cell("adlb", 2, "AVAL", "21.04"), cell("adlb", 2, "AVALU", "mg/dL")),
         note="unit-converted"),
    Case("unknown-paramcd", "an ADLB parameter the trial does not know (XYZ)",
         cell("adlb", 2, R, "XYZ")),
    Case("lower-case-paramcd", "PARAMCD 'tbil' (read as TBIL, listed)",
         column("adlb", R, _tbil_lower), note="code-case", report=True),
    Case("padded-code", "PARAMCD ' TBIL ' with blanks around it", cell("adlb", 2, R, " TBIL ")),
    Case("lower-case-flag", "SAFFL 'y' (read as Y, listed)", cell("adsl", 1, "SAFFL", "y"),
         note="code-case"),
    Case("bad-flag", "SAFFL 'yes'", cell("adsl", 1, "SAFFL", "yes"),
         file="adsl.csv", rule="controlled-term", row=1, variable="SAFFL"),
    Case("grade-0", "an AE of CTCAE grade 0", cell("adae", 2, "ATOXGR", "0"),
         file="adae.csv", rule="controlled-term", row=2, variable="ATOXGR"),
    Case("grade-6", "an AE of CTCAE grade 6", cell("adae", 2, "ATOXGR", "6"),
         file="adae.csv", rule="controlled-term", row=2, variable="ATOXGR", report=True),
    Case("grade-fraction", "an AE of grade 1.5", cell("adae", 2, "ATOXGR", "1.5"),
         file="adae.csv", rule="controlled-term", row=2, variable="ATOXGR"),
    Case("grade-text", "an AE of grade 'severe'", cell("adae", 2, "ATOXGR", "severe"),
         file="adae.csv", rule="controlled-term", row=2, variable="ATOXGR"),
    Case("grade-blank", "an AE without a grade (kept; the AE tables list it as missing)",
         cell("adae", 2, "ATOXGR", "")),
    Case("bad-relationship", "AERELDEV 'MAYBE'", cell("adae", 2, "AERELDEV", "MAYBE"),
         file="adae.csv", rule="controlled-term", row=2, variable="AERELDEV"),
    Case("bad-outcome", "AEOUT 'RESOLVED'", cell("adae", 3, "AEOUT", "RESOLVED"),
         file="adae.csv", rule="controlled-term", row=3, variable="AEOUT"),
    # Keys and subjects
    Case("duplicate-ae-key", "two ADAE records with the same USUBJID and AESEQ",
         frame_edit("adae", _duplicate_row(1)), file="adae.csv", rule="key-duplicate",
         row=18, variable="USUBJID, AESEQ"),
    Case("duplicate-subject", "a subject twice in adsl.csv",
         frame_edit("adsl", _duplicate_row(4)), file="adsl.csv", rule="key-duplicate",
         row=11, variable="USUBJID"),
    Case("unknown-subject", "an ADAE subject that ADSL lacks",
         cell("adae", 4, "USUBJID", "NCT06904755-01-999"), file="adae.csv",
         rule="subject-not-in-adsl", row=4, variable="USUBJID"),
    Case("blank-subject", "an ADEX record without USUBJID", cell("adex", 6, "USUBJID", ""),
         file="adex.csv", rule="missing-value", row=6, variable="USUBJID"),
    # Dates
    Case("impossible-date", "ASTDT 2024-02-30", cell("adae", 2, "ASTDT", "2024-02-30"),
         file="adae.csv", rule="type", row=2, variable="ASTDT"),
    Case("partial-date", "ASTDT 2024-06 (month only)", cell("adae", 2, "ASTDT", "2024-06"),
         file="adae.csv", rule="type", row=2, variable="ASTDT"),
    Case("us-date", "TRTSDT 06/06/2024", cell("adsl", 3, "TRTSDT", "06/06/2024"),
         file="adsl.csv", rule="type", row=3, variable="TRTSDT"),
    Case("time-in-date", "ASTDT 2024-06-10T10:00 (a date with a time)",
         cell("adae", 2, "ASTDT", "2024-06-10T10:00"),
         file="adae.csv", rule="type", row=2, variable="ASTDT"),
    Case("date-far-past", "ASTDT 1850-06-10", cell("adae", 2, "ASTDT", "1850-06-10"),
         file="adae.csv", rule="impossible-value", row=2, variable="ASTDT"),
    Case("date-far-future", "AENDT 2999-06-10 (beyond what datetime64 holds)",
         cell("adae", 2, "AENDT", "2999-06-10"),
         file="adae.csv", rule="impossible-value", row=2, variable="AENDT"),
    Case("end-before-start", "AENDT before ASTDT", cell("adae", 1, "AENDT", "2024-04-20"),
         file="adae.csv", rule="date-order", row=1, variable="ASTDT, AENDT"),
    Case("date-only-datetime", "an ADEX start given as a date alone (read as 00:00, listed)",
         cell("adex", 2, "ASTDTM", "2024-06-06"), note="type"),
    # SAS transport (the CDISC pilot's adsl.xpt and adae.xpt)
    Case("xpt-cut-mid-card", "adae.xpt cut short inside a card, 708 records in (the issue)",
         byte_edit("adae.xpt", _cut(ADAE_DATA_START + 708 * ADAE_RECORD + 100)),
         file="adae.xpt", rule="file-truncated", text="not a whole number of 80-byte cards",
         base="pilot", analyses="safety", report=True),
    Case("xpt-cut-mid-record", "adae.xpt cut at a card boundary inside record 709",
         byte_edit("adae.xpt", _cut(ADAE_DATA_START + 5240 * 80)),
         file="adae.xpt", rule="file-truncated", text="last record is incomplete",
         base="pilot", analyses="safety"),
    Case("xpt-cut-at-record-and-card", "adae.xpt cut where a record and a card end together "
         "(version 5 records no count: read as a 710-record file)",
         byte_edit("adae.xpt", _cut(ADAE_DATA_START + 710 * ADAE_RECORD)),
         base="pilot", analyses="safety"),
    Case("xpt-cut-in-headers", "adae.xpt cut inside its variable descriptors",
         byte_edit("adae.xpt", _cut(1000)), file="adae.xpt", rule="file-truncated",
         text="inside the descriptors", base="pilot", analyses="safety"),
    Case("xpt-bytes-appended", "80 bytes of garbage after the data of adae.xpt",
         byte_edit("adae.xpt", lambda b: b + b"X" * 80), file="adae.xpt",
         rule="file-truncated", text="neither a whole record nor blank padding", base="pilot",
         analyses="safety"),
    Case("xpt-two-members", "adae.xpt holding a second dataset after the first",
         _second_member, file="adae.xpt", rule="file-layout", text="more than one dataset",
         base="pilot", analyses="safety"),
    Case("xpt-wrong-variable-count", "the NAMESTR header of adae.xpt gives 54 variables of 55",
         byte_edit("adae.xpt", _namestr_count), file="adae.xpt", rule="file-layout",
         text="expected the observation header", base="pilot", analyses="safety"),
    Case("xpt-not-transport", "adae.xpt is a text file",
         byte_edit("adae.xpt", lambda b: b"USUBJID,AETERM\n01,Fever\n"), file="adae.xpt",
         rule="file-unreadable", text="not a SAS transport", base="pilot", analyses="safety"),
    Case("xpt-v8-promises-more", "a version 8 adae.xpt whose header promises 5 more records",
         _xpt_v8_promising(5), file="adae.xpt", rule="file-truncated",
         text="promises 22 record(s), the file holds 17", analyses="safety"),
    Case("xpt-gz-cut", "adae.xpt.gz cut in half (gzip stream without its end)",
         _gzip("adae.xpt", lambda b: b[: len(b) // 2]), file="adae.xpt.gz",
         rule="file-truncated", text="gzip stream ends", base="pilot", analyses="safety",
         report=True),
    Case("xpt-gz-corrupt", "64 bytes inverted in the middle of adae.xpt.gz",
         _gzip("adae.xpt", _flip_middle), file="adae.xpt.gz", rule="file-unreadable",
         text="gzip", base="pilot", analyses="safety"),
    Case("xpt-gz-not-gzip", "adae.xpt.gz is not compressed",
         lambda f: (f / "adae.xpt").rename(f / "adae.xpt.gz"), file="adae.xpt.gz",
         rule="file-unreadable", text="not a valid gzip file", base="pilot",
         analyses="safety"),
    # Parquet
    Case("parquet-cut", "adae.parquet cut in half",
         both(_to_parquet("adae"), byte_edit("adae.parquet", lambda b: b[: len(b) // 2])),
         file="adae.parquet", rule="file-unreadable", report=True),
    Case("parquet-not-parquet", "adae.parquet is a CSV file",
         lambda f: (f / "adae.csv").rename(f / "adae.parquet"), file="adae.parquet",
         rule="file-unreadable"),
    Case("parquet-text-in-number", "AESEQ stored as text holding 'x' in adae.parquet",
         both(cell("adae", 2, "AESEQ", "x"), _to_parquet("adae")),
         file="adae.parquet", rule="type", row=2, variable="AESEQ"),
    Case("parquet-typed", "adae.parquet with integer and timestamp columns",
         _to_parquet("adae", _typed_adae)),
    Case("parquet-categorical", "adae.parquet with dictionary-encoded (categorical) columns",
         _to_parquet("adae", _categorical)),
    Case("parquet-far-date", "a timestamp of 2999 in adae.parquet",
         _to_parquet("adae", _far_date), file="adae.parquet", rule="impossible-value",
         row=3, variable="ASTDT"),
)


@dataclass(frozen=True)
class SapCase:
    """A broken ``sap.toml``: the report must be refused naming the file, key and rule."""

    id: str
    description: str
    make: Callable[[bytes], bytes]
    key: str
    text: str


def _sub(old: str, new: str) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        assert old.encode() in data, old
        return data.replace(old.encode(), new.encode(), 1)
    return change


SAP_CASES: tuple[SapCase, ...] = (
    SapCase("sap-not-utf8", "sap.toml with a Latin-1 character",
            lambda b: b.replace(b"# ", "# é ".encode("latin1"), 1), "", "not UTF-8 text"),
    SapCase("sap-invalid-toml", "sap.toml with an unclosed table header",
            lambda b: b + b"\n[study\n", "", "not valid TOML"),
    SapCase("sap-missing-key", "sap.toml without [study] conf_level",
            _sub("conf_level = 0.95", ""), "conf_level", "missing the required key"),
    SapCase("sap-wrong-type", "sap.toml with conf_level = \"high\"",
            _sub("conf_level = 0.95", 'conf_level = "high"'), "conf_level", "must be a number"),
    SapCase("sap-out-of-range", "sap.toml with conf_level = 1.5",
            _sub("conf_level = 0.95", "conf_level = 1.5"), "conf_level", "is outside"),
    SapCase("sap-unknown-key", "sap.toml with an unknown key in [study]",
            _sub("conf_level = 0.95", "conf_level = 0.95\ncolour = 1"), "colour",
            "unknown key"),
    SapCase("sap-empty", "sap.toml of 0 bytes", lambda b: b"", "study",
            "missing the required key"),
)


# --------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------

def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(["-q", *argv])
    except BaseException:  # a traceback is a failure of the case, whatever it is
        pytest.fail(f"traceback from msc-analysis {' '.join(argv)}:\n{traceback.format_exc()}")
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _assert_refused(case: Case, status: int, err: str) -> None:
    assert status == 1, err
    assert err.startswith("error: "), err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if f"rule {case.rule}" in ln and case.file in ln]
    assert lines, f"no line naming {case.file} and rule {case.rule} in:\n{err}"
    if case.row is not None:
        lines = [ln for ln in lines if f"{case.file} data row {case.row}:" in ln]
        assert lines, f"no line naming data row {case.row} in:\n{err}"
    if case.variable:
        lines = [ln for ln in lines if f"variable {case.variable}, " in ln]
        assert lines, f"no line naming variable {case.variable} in:\n{err}"
    if case.text:
        assert any(case.text in ln for ln in lines), f"{case.text!r} not in:\n{err}"


def _csv_records(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    while rows and not any(rows[-1]):
        rows.pop()  # blank lines at the end are no records
    return len(rows) - 1


def _input_records(folder: Path) -> dict[str, int]:
    """Records per dataset in the input files, counted without the package's readers."""
    counts: dict[str, int] = {}
    for path in sorted(folder.iterdir()):
        name = path.name.lower()
        dataset = name.split(".")[0][:4].upper()
        if dataset not in ("ADSL", "ADEX", "ADLB", "ADAE", "ADVS"):
            continue
        if name.endswith(".csv"):
            count = _csv_records(path)
        elif name.endswith(".parquet"):
            count = pq.ParquetFile(path).metadata.num_rows
        else:  # version 5 transport files record no count: read them
            count = len(pyreadstat.read_xport(str(path))[0])
        counts[dataset] = counts.get(dataset, 0) + count
    return counts


def _kept(out: str) -> dict[str, int]:
    """Rows per dataset from the summary ``validate`` prints."""
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("dataset"))
    kept = {}
    for line in lines[start + 1:]:
        if line.startswith("Subjects in ADSL"):
            break
        words = line.split()
        kept[words[0]] = int(words[-2])
    return kept


def _assert_accepted(case: Case, folder: Path, status: int, out: str, err: str,
                     issues: pd.DataFrame) -> None:
    assert status == 0, err
    assert "Traceback" not in err
    excluded = issues.loc[issues["severity"] == "excluded", "file"].str[:4].str.upper()
    expected = _input_records(folder)
    kept = _kept(out)
    assert set(kept) == set(expected)
    for dataset, count in expected.items():
        assert kept[dataset] + int((excluded == dataset).sum()) == count, dataset
    if case.note:
        assert case.note in set(issues["rule"]), issues


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make a file unreadable: chmod 000, and (as root, who reads it anyway) refuse opening."""
    def make(path: Path) -> None:
        path.chmod(0)
        if os.geteuid() != 0:
            return
        real_open = builtins.open

        def guarded(file: object, *args: object, **kwargs: object) -> object:
            if isinstance(file, str | os.PathLike) and Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(builtins, "open", guarded)
        monkeypatch.setattr(io, "open", guarded)
    return make


def _study(case: Case, tmp_path: Path) -> Path:
    if case.base == "pilot":
        if not PILOT.is_dir():
            pytest.skip("CDISC pilot data not available")
        folder = tmp_path / "pilot"
        _pilot_folder(folder)
    else:
        folder = tmp_path / "synthetic"
        shutil.copytree(SYNTHETIC, folder)
    case.make(folder)
    return folder


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                  unreadable: Callable[[Path], None]) -> None:
    folder = _study(case, tmp_path)
    if case.id == "unreadable-file":
        unreadable(folder / "adae.csv")
    issues_file = tmp_path / "issues.csv"
    status, out, err = _run(["validate", str(folder), "--analyses", case.analyses,
                             "--issues", str(issues_file)], capsys)
    if case.rule:
        _assert_refused(case, status, err)
    else:
        issues = pd.read_csv(issues_file, dtype=str, keep_default_na=False)
        _assert_accepted(case, folder, status, out, err, issues)


REPORT_CASES = [c for c in CASES if c.report]


@pytest.mark.parametrize("case", REPORT_CASES, ids=[c.id for c in REPORT_CASES])
def test_report(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _study(case, tmp_path)
    out_folder = tmp_path / "out"
    status, _, err = _run(["report", "--data", str(folder), "--out", str(out_folder),
                           "--sap", str(SAP), "--serial"], capsys)
    if case.rule:
        _assert_refused(case, status, err)
        return
    assert status == 0, err
    issues = pd.read_csv(out_folder / "data_issues.csv", dtype=str, keep_default_na=False)
    assert case.note in set(issues["rule"])
    # Every AE and every subject is in the derived datasets the report writes.
    for name in ("adae", "adsl"):
        written = pd.read_csv(out_folder / "datasets" / f"{name}.csv", dtype=str)
        assert len(written) == _csv_records(folder / f"{name}.csv"), name
    if case.id == "lower-case-paramcd":
        ard = pd.read_csv(out_folder / "ard.csv", dtype=str, keep_default_na=False)
        tbil = ard.loc[(ard["analysis_id"] == "PP-SESS") & (ard["group1_level"] == "TBIL")]
        assert (tbil["stat_name"] == "n").any()
        assert tbil.loc[tbil["stat_name"] == "n", "stat"].astype(float).max() > 0


@pytest.mark.parametrize("case", SAP_CASES, ids=[c.id for c in SAP_CASES])
def test_report_sap(case: SapCase, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sap = tmp_path / "sap.toml"
    sap.write_bytes(case.make(SAP.read_bytes()))
    status, _, err = _run(["report", "--data", str(SYNTHETIC), "--out", str(tmp_path / "out"),
                           "--sap", str(sap)], capsys)
    assert status == 1, err
    assert err.startswith(f"error: {sap}: "), err
    assert "Traceback" not in err
    assert case.key in err and case.text in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["missing", "folder"])
def test_report_sap_file_missing_or_a_folder(where: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    sap = tmp_path / "sap.toml"
    if where == "folder":
        sap.mkdir()
    # The argument is checked when the command line is read: a usage error (exit 2, argparse's
    # status for these) naming the option and the path, never a traceback.
    with pytest.raises(SystemExit) as stop:
        main(["-q", "report", "--data", str(SYNTHETIC), "--out", str(tmp_path / "out"),
              "--sap", str(sap)])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.splitlines()[-1].startswith("msc-analysis report: error: argument --sap: ")
    assert str(sap) in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["missing", "file"])
def test_study_folder_missing_or_a_file(where: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "study"
    if where == "file":
        folder.write_text("not a folder")
    status, _, err = _run(["validate", str(folder)], capsys)
    assert status == 1
    what = "does not exist" if where == "missing" else "is not a folder"
    assert err == f"error: {folder}: rule folder-missing: the study folder {what}\n"


def test_corpus_has_at_least_sixty_distinct_classes() -> None:
    ids = [c.id for c in CASES] + [c.id for c in SAP_CASES]
    ids += ["sap-file-missing", "sap-file-is-a-folder", "folder-missing", "folder-is-a-file"]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60
    assert all(c.description for c in (*CASES, *SAP_CASES))
