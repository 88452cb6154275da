"""The run manifest: what went in, with which settings and software, so a report can be re-checked.

``manifest.json`` holds the SHA-256 of every input file, the SAP settings used (file hash and the
settings themselves), package and dependency versions, the git commit of the code, the data
cut-off, the seed, and the time of the run. The run time is the only field that changes between
two runs on the same inputs. ``producer`` ("msc-analysis") and ``output`` (the kind of output:
"report", "safety") mark the folder as the package's own output, which a later run may replace
(:mod:`msc_analysis.report.atomic`); ``outputs`` lists every file written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from msc_analysis.report.output_folder import manifest_marker

#: Distributions whose versions are recorded.
DEPENDENCIES: tuple[str, ...] = (
    "msc-analysis", "pandas", "numpy", "scipy", "statsmodels", "matplotlib", "pyreadstat",
    "pyarrow", "papermill", "nbclient",
)


#: Settings fields that hold where a file was read from: never written (no machine paths).
MACHINE_FIELDS: frozenset[str] = frozenset({"source"})


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def versions(names: Iterable[str] = DEPENDENCIES) -> dict[str, str]:
    """Installed versions of ``names`` ("not installed" where absent) and of Python."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_commit(start: Path) -> str:
    """The commit checked out at or above ``start`` (with "+dirty" for local changes), or
    "unknown" when the code is not in a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=start, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=start, capture_output=True, text=True, check=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def settings_dict(settings: Any) -> Any:
    """A JSON-able copy of frozen settings (dataclasses, tuples, mappings)."""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return {f.name: settings_dict(getattr(settings, f.name))
                for f in dataclasses.fields(settings)
                if not f.name.startswith("_") and f.name not in MACHINE_FIELDS}
    if isinstance(settings, Mapping):
        return {str(k): settings_dict(v) for k, v in settings.items()}
    if isinstance(settings, (list, tuple)):
        return [settings_dict(v) for v in settings]
    if isinstance(settings, Path):
        return settings.name
    return settings


def build_manifest(
    *,
    inputs: Mapping[str, Path],
    sap_file: Path | None,
    sap_settings: Any,
    cutoff: str,
    seed: int | None,
    code_dir: Path,
    outputs: Iterable[str],
    output: str = "report",
) -> dict[str, Any]:
    """Assemble the manifest as a dict (see the module docstring for its fields).

    Input files are named by file name only, never by machine path. ``output`` is the kind of
    output the manifest describes ("report", "safety").
    """
    return {
        **manifest_marker(output),
        "study": getattr(sap_settings, "study_id", ""),
        "data_cutoff": cutoff,
        "seed": seed,
        "inputs": {name: {"file": path.name, "sha256": sha256_file(path)}
                   for name, path in sorted(inputs.items())},
        "sap": {
            "file": sap_file.name if sap_file else "",
            "sha256": sha256_file(sap_file) if sap_file else "",
            "settings": settings_dict(sap_settings),
        },
        "software": versions(),
        "git_commit": git_commit(code_dir),
        "outputs": sorted(outputs),
        "run_time_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_manifest(manifest: Mapping[str, Any], path: Path) -> None:
    """Write the manifest as indented, key-sorted JSON."""
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n",
                    encoding="utf-8")
