"""Reading study folders: file matching, formats (CSV, SAS transport, Parquet), stacking."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from io_fixtures import valid_frames, write_study
from msc_analysis.errors import DataError
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study, load_study
from msc_analysis.io.readers import FILE_COLUMN, ROW_COLUMN, classify
from msc_analysis.io.schema import ANALYSES

ALL = tuple(a for a in ANALYSES if a != "core")
DATASETS = ("adsl", "adex", "adlb", "adae", "advs")


@pytest.fixture(scope="module")
def csv_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return load_study(write_study(tmp_path_factory.mktemp("csv")), analyses=ALL)


def _data(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[FILE_COLUMN])


def _write_xpt(frame: pd.DataFrame, path: Path, version: int) -> None:
    data = frame.drop(columns=[FILE_COLUMN, ROW_COLUMN])
    pyreadstat.write_xport(data, str(path), table_name=path.name.split(".")[0].upper()[:8],
                           file_format_version=version)


@pytest.mark.parametrize("version", [5, 8])
def test_xpt_round_trip_equals_csv(csv_study: Study, tmp_path: Path, version: int) -> None:
    folder = tmp_path / "xpt"
    folder.mkdir()
    for name in DATASETS:
        _write_xpt(getattr(csv_study, name), folder / f"{name.upper()}.xpt", version)
    # One gzip-compressed file as well, as in the CDISC Pilot.
    with (folder / "ADVS.xpt").open("rb") as src, gzip.open(folder / "advs.xpt.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    (folder / "ADVS.xpt").unlink()
    study = load_study(folder, analyses=ALL)
    for name in DATASETS:
        pd.testing.assert_frame_equal(_data(getattr(study, name)),
                                      _data(getattr(csv_study, name)), check_like=False)
    assert study.advs[FILE_COLUMN].iloc[0] == "advs.xpt.gz"


def test_parquet_round_trip_equals_csv(csv_study: Study, tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    for name in DATASETS:
        frame = getattr(csv_study, name).drop(columns=[FILE_COLUMN, ROW_COLUMN])
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    study = load_study(folder, analyses=ALL)
    for name in DATASETS:
        pd.testing.assert_frame_equal(_data(getattr(study, name)),
                                      _data(getattr(csv_study, name)))


def test_sas_dates_zero_and_padding(tmp_path: Path) -> None:
    # Numbers with SAS date / datetime formats become datetimes; 0 stays exactly 0; padded
    # and "." character values are stripped / read as missing.
    raw = pd.DataFrame({
        "USUBJID": ["  S1  ", "S2"],
        "TRTSDT": [23803.0, np.nan],  # 23803 days after 1960-01-01 = 2025-03-03
        "TRT01AN": [0.0, 54.0],
        "AVISIT": ["    Baseline", "."],
    })
    path = tmp_path / "adsl.xpt"
    pyreadstat.write_xport(raw, str(path), table_name="ADSL", file_format_version=5,
                           variable_format={"TRTSDT": "DATE9."})
    issues = DataIssues()
    study = load_study(tmp_path, issues=issues)
    adsl = study.adsl
    assert adsl["USUBJID"].tolist() == ["S1", "S2"]
    assert adsl["TRTSDT"].iloc[0] == pd.Timestamp("2025-03-03")
    assert pd.isna(adsl["TRTSDT"].iloc[1])
    assert adsl["TRT01AN"].iloc[0] == 0.0
    assert adsl["AVISIT"].tolist() == ["Baseline", ""]
    notes = issues.frame()
    assert notes[["file", "variable", "rule", "severity"]].values.tolist() == [
        ["adsl.xpt", "AVISIT", "reader", "note"]]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ADSL.csv", ("adsl", "csv")),
        ("adsl.XPT", ("adsl", "xpt")),
        ("AdLbC.xpt.GZ", ("adlbc", "xpt")),
        ("advs.parquet", ("advs", "parquet")),
        ("adlb.csv", ("adlb", "csv")),
        ("screening_log.csv", None),
        ("adsl.sas7bdat", None),
        ("SOURCE.md", None),
        ("adsl_old.csv", None),
    ],
)
def test_file_names_match_case_insensitively(name: str, expected: object) -> None:
    assert classify(Path(name)) == expected


def test_upper_case_file_names_load(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "s")
    for name in DATASETS:
        (folder / f"{name}.csv").rename(folder / f"{name.upper()}.CSV")
    study = load_study(folder, analyses=ALL)
    assert study.files["adsl"].name == "ADSL.CSV"
    assert study.adsl[FILE_COLUMN].iloc[0] == "ADSL.CSV"


def test_two_files_for_one_dataset_is_an_error(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "s")
    shutil.copy(folder / "adsl.csv", folder / "ADSL.parquet")
    with pytest.raises(DataError) as caught:
        load_study(folder)
    message = str(caught.value)
    assert "rule file-duplicate: two files for dataset ADSL: adsl.csv and ADSL.parquet" in message
    assert message.startswith("1 data error(s)")  # no second, spurious "dataset-missing"


def test_adlb_whole_and_in_parts_is_an_error(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "s")
    shutil.copy(folder / "adlb.csv", folder / "adlbc.csv")
    with pytest.raises(DataError, match="rule file-duplicate: ADLB is given whole and in parts"):
        load_study(folder)


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "s")
    (folder / "adae.xpt").write_bytes(b"this is not a transport file" * 10)
    (folder / "adae.csv").unlink()
    with pytest.raises(DataError) as caught:
        load_study(folder)
    assert "adae.xpt: rule file-unreadable: cannot read" in str(caught.value)


def test_adlb_parts_are_stacked_with_provenance(tmp_path: Path) -> None:
    frames = valid_frames()
    adlb = frames.pop("adlb")
    folder = write_study(tmp_path / "s", frames)
    adlb.iloc[:6].to_csv(folder / "adlbc.csv", index=False)
    adlb.iloc[6:].drop(columns=["LBORRES"]).to_csv(folder / "ADLBH.csv", index=False)
    study = load_study(folder, analyses=("labs",))
    assert len(study.adlb) == 18
    assert study.adlb[FILE_COLUMN].tolist() == ["adlbc.csv"] * 6 + ["ADLBH.csv"] * 12
    assert study.adlb[ROW_COLUMN].tolist() == list(range(1, 7)) + list(range(1, 13))
    assert study.adlb["LBORRES"].tolist()[5:7] == ["12.5", ""]  # absent in one part -> ""
    assert sorted(study.files) == ["adae", "adex", "adlbc", "adlbh", "adsl", "advs"]
    assert [p.name for p in study.paths("ADLB")] == ["adlbc.csv", "ADLBH.csv"]


def test_error_in_second_part_names_its_file_and_row(tmp_path: Path) -> None:
    frames = valid_frames()
    adlb = frames.pop("adlb")
    folder = write_study(tmp_path / "s", frames)
    adlb.iloc[:6].to_csv(folder / "adlbc.csv", index=False)
    rest = adlb.iloc[6:].reset_index(drop=True)
    rest.loc[3, "USUBJID"] = "MSC-01-404"
    rest.to_csv(folder / "adlbh.csv", index=False)
    with pytest.raises(DataError) as caught:
        load_study(folder, analyses=("labs",))
    assert "adlbh.csv data row 4: variable USUBJID, rule subject-not-in-adsl" in str(
        caught.value)


def test_blank_line_keeps_row_numbers(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "s")
    lines = (folder / "adae.csv").read_text().splitlines()
    (folder / "adae.csv").write_text("\n".join([lines[0], "", *lines[1:]]) + "\n")
    with pytest.raises(DataError) as caught:
        load_study(folder)
    # The blank line is data row 1 (a record with no subject), not silently skipped.
    assert "adae.csv data row 1: variable USUBJID, rule missing-value" in str(caught.value)


def test_undeclared_columns_are_kept_and_typed(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["adsl"]["TRT01AN"] = ["0", "1", "1"]
    frames["adsl"]["ARMCD"] = ["01", "02", "02"]
    frames["adsl"]["RANDDT"] = ["2025-03-02", "", "2025-03-02"]
    issues = DataIssues()
    study = load_study(write_study(tmp_path / "s", frames), analyses=ALL, issues=issues)
    assert len(issues) == 0
    assert study.adsl["TRT01AN"].tolist() == [0.0, 1.0, 1.0]
    assert study.adsl["ARMCD"].tolist() == ["01", "02", "02"]  # a code keeps its zero
    assert study.adsl["RANDDT"].dtype == "datetime64[ns]"


def test_sas_number_without_date_format_is_read_as_sas_date(tmp_path: Path) -> None:
    raw = pd.DataFrame({"USUBJID": ["S1"], "TRTSDT": [23803.0], "PAD": ["x" * 90]})
    pyreadstat.write_xport(raw, str(tmp_path / "adsl.xpt"), table_name="ADSL",
                           file_format_version=5)
    issues = DataIssues()
    study = load_study(tmp_path, issues=issues)
    assert study.adsl["TRTSDT"].iloc[0] == pd.Timestamp("2025-03-03")
    notes = issues.frame()
    assert notes[["file", "variable", "rule", "severity"]].values.tolist() == [
        ["adsl.xpt", "TRTSDT", "type", "note"]]


def test_ibm_zero_fixed_on_the_pandas_path(tmp_path: Path) -> None:
    # Records longer than 80 bytes are read with pandas, which decodes 0 as 5.397605e-79.
    raw = pd.DataFrame({"USUBJID": ["S1", "S2"], "TRT01AN": [0.0, 81.0], "PAD": ["x" * 90] * 2})
    pyreadstat.write_xport(raw, str(tmp_path / "adsl.xpt"), table_name="ADSL",
                           file_format_version=5)
    study = load_study(tmp_path)
    assert study.adsl["TRT01AN"].tolist() == [0.0, 81.0]
