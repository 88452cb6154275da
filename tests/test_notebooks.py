"""The notebooks: stored clean, executed headless with papermill, same ARD as the command.

``notebooks/interim_report.ipynb`` must produce, for the same data and settings, the very same
``ard.csv`` (byte for byte) and table CSVs as ``msc-analysis report``: it calls the package and
re-implements nothing. ``notebooks/explore_biomarkers.ipynb`` must run end to end on the
synthetic study and show what it promises (paired tests, MMRM, figures, the sensitivity runs).
Both are executed with the kernel named ``python3`` (the Makefile installs the venv's ipykernel
under that name) with ``notebooks/`` as the working folder, as a user would open them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip(
    "nbformat", reason="the notebooks extra is not installed (pip install -e '.[notebooks]'; "
                       "make installs it)")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
DATA = REPO / "data" / "synthetic"
SAP_FILE = REPO / "sap" / "sap.toml"
INTERIM = NOTEBOOKS / "interim_report.ipynb"
EXPLORE = NOTEBOOKS / "explore_biomarkers.ipynb"
#: A cut-off inside the synthetic study's follow-up, so the parameter really changes the data.
CUTOFF = "2024-12-01"


def _kernel_or_skip() -> None:
    """Skip unless a kernel named python3 runs this interpreter's environment."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no Jupyter kernel named python3 (run `make test`, which installs it)")
    kernel_python = Path(spec.argv[0])
    # Compare the bin folders without resolving symlinks: a venv's python links to the base one.
    if kernel_python.is_absolute() and kernel_python.parent != Path(sys.executable).parent:
        pytest.skip(f"kernel python3 runs {kernel_python}, not this environment's python")


def _execute(notebook: Path, output: Path, parameters: dict[str, Any]) -> nbformat.NotebookNode:
    import papermill as pm

    _kernel_or_skip()
    pm.execute_notebook(
        str(notebook), str(output), parameters=parameters, kernel_name="python3",
        cwd=str(NOTEBOOKS), progress_bar=False, log_output=False,
    )
    return nbformat.read(output, as_version=4)


def _outputs(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for out in _outputs(nb):
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(str(out.data.get("text/plain", "")))
            parts.append(str(out.data.get("text/html", "")))
    return "\n".join(parts)


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in out.get("data", {}) for out in _outputs(nb))


# --------------------------------------------------------------------------------------------
# Stored form
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [INTERIM, EXPLORE], ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code cells"
    for i, cell in enumerate(code):
        assert cell.outputs == [], f"{path.name}: code cell {i} has stored outputs"
        assert cell.execution_count is None, f"{path.name}: code cell {i} has an execution count"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged 'parameters'"
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_interim_parameters_cell_declares_the_documented_parameters() -> None:
    nb = nbformat.read(INTERIM, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    names: dict[str, Any] = {}
    exec(cell.source, {}, names)  # the cell holds plain assignments only
    assert {"data_dir", "cutoff", "out_dir", "sap_file"} <= set(names)
    assert names["cutoff"] is None
    assert names["sap_file"] is None


# --------------------------------------------------------------------------------------------
# interim_report.ipynb against the command
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def interim_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The notebook and the command on the same data and settings, into separate folders."""
    from msc_analysis.cli import main

    tmp = tmp_path_factory.mktemp("notebooks")
    nb_out, cli_out = tmp / "notebook_report", tmp / "command_report"
    nb = _execute(INTERIM, tmp / "interim_report.out.ipynb", {
        "data_dir": str(DATA), "cutoff": CUTOFF, "out_dir": str(nb_out), "sap_file": None,
    })
    status = main(["-q", "report", "--data", str(DATA), "--out", str(cli_out),
                   "--cutoff", CUTOFF, "--sap", str(SAP_FILE)])
    assert status == 0
    return {"nb": nb, "nb_out": nb_out, "cli_out": cli_out}


def test_interim_notebook_ard_equals_the_commands_byte_for_byte(
        interim_runs: dict[str, Any]) -> None:
    nb_ard = (interim_runs["nb_out"] / "ard.csv").read_bytes()
    cli_ard = (interim_runs["cli_out"] / "ard.csv").read_bytes()
    assert len(nb_ard.splitlines()) > 100, "the notebook's ARD is implausibly short"
    assert nb_ard == cli_ard


def test_interim_notebook_tables_equal_the_commands(interim_runs: dict[str, Any]) -> None:
    nb_tables = sorted(p.name for p in (interim_runs["nb_out"] / "tables").glob("*.csv"))
    cli_tables = sorted(p.name for p in (interim_runs["cli_out"] / "tables").glob("*.csv"))
    assert nb_tables == cli_tables and nb_tables
    for name in nb_tables:
        nb_bytes = (interim_runs["nb_out"] / "tables" / name).read_bytes()
        assert nb_bytes == (interim_runs["cli_out"] / "tables" / name).read_bytes(), name


def test_interim_notebook_shows_the_tour(interim_runs: dict[str, Any]) -> None:
    nb = interim_runs["nb"]
    text = _text(nb)
    assert f"Data cut-off: {CUTOFF}" in text, "the cut-off parameter did not reach the build"
    assert "msc-table" in text, "no report table was displayed"
    assert "ARD:" in text and "data issues" in text
    assert "Table 14.3.7.1" in text, "the monitoring table was not shown"
    assert _images(nb) >= 1, "no figure was shown inline"
    assert not [o for o in _outputs(nb) if o.output_type == "error"]


# --------------------------------------------------------------------------------------------
# explore_biomarkers.ipynb
# --------------------------------------------------------------------------------------------


def test_explore_notebook_runs_and_shows_tests_mmrm_figures_and_sensitivity(
        tmp_path: Path) -> None:
    nb = _execute(EXPLORE, tmp_path / "explore.out.ipynb", {"data_dir": str(DATA)})
    text = _text(nb)
    assert "Wilcoxon signed rank" in text and "geometric mean ratio" in text
    assert "REML log-likelihood" in text or "MMRM not estimable" in text
    assert "(primary)" in text and "(sensitivity)" in text and "90%" in text
    assert _images(nb) >= 2, "the paired plot and the spaghetti plot were not shown"
