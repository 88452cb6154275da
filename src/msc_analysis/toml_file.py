"""Reading a settings file (``sap.toml``, a simulation's ``--settings``) with clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from msc_analysis.errors import SettingsError

__all__ = ["read_toml"]


def read_toml(file: Path) -> dict[str, Any]:
    """The tables of a TOML file.

    Raises
    ------
    SettingsError
        The file is missing or unreadable, is not UTF-8 text (the message names the byte and the
        line), or is not valid TOML. A byte-order mark is tolerated.
    """
    if not file.is_file():
        raise SettingsError(f"{file}: settings file not found")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{file}: cannot read the settings file: "
                            f"{exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")  # TOML is UTF-8; a byte-order mark is tolerated
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SettingsError(f"{file}: not UTF-8 text: byte 0x{raw[exc.start]:02X} on line "
                            f"{line} is no UTF-8 character (TOML files are UTF-8); save the "
                            "file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{file}: not valid TOML: {exc}") from None
