"""Errors shown to users as plain messages (never a traceback).

The command line catches :class:`MscError`, prints its message and exits with status 1. Every
message names what a user needs to fix the input: the file, the row, the variable and the rule.
"""

from __future__ import annotations


class MscError(Exception):
    """Base class of every error the package reports to a user as a message."""


class DataError(MscError):
    """Input data break a rule of the data model.

    Parameters
    ----------
    message : str
        The whole message, already naming file, row, variable and rule.
    """


class SettingsError(MscError):
    """The analysis settings (``sap/sap.toml``) are malformed or inconsistent."""


class AnalysisError(MscError):
    """An analysis cannot be carried out on the data given (for example no subjects)."""


class OutputError(MscError):
    """An output location is refused, or cannot be written (the message names it)."""
