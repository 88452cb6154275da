"""LibreOffice and poppler for the reader tests: convert RTF files to PDF, read PDF text.

Both come from Debian's packages (libreoffice-writer-nogui, poppler-utils), not from pip; tests
that need them skip with the reason where they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PDFTOTEXT = shutil.which("pdftotext")


def to_pdf(rtfs: Iterable[Path], folder: Path) -> None:
    """Convert RTF files to ``folder/<stem>.pdf`` in one run of LibreOffice (its own profile
    in ``folder/lo``, so runs do not share state)."""
    assert SOFFICE is not None, "LibreOffice is not installed"
    subprocess.run([SOFFICE, f"-env:UserInstallation={(folder / 'lo').as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(folder), *map(str, rtfs)],
                   capture_output=True, text=True, timeout=300, check=True)


def pdf_text(pdf: Path, *, first: int | None = None, last: int | None = None) -> str:
    """The text of a PDF (``pdftotext -layout``), pages ending in form feeds."""
    assert PDFTOTEXT is not None, "pdftotext (poppler-utils) is not installed"
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    return subprocess.run([PDFTOTEXT, "-layout", *pages, str(pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
