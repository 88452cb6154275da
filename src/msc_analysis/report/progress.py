"""A plain step display for long runs, on standard error: ``[3/12] safety analyses``."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Progress:
    """Shows numbered steps with the time the previous step took.

    Parameters
    ----------
    total : int
        Number of steps announced (0: unnumbered).
    enabled : bool
        When False nothing is written.
    stream : file, optional
        Where to write (standard error by default).
    """

    total: int
    enabled: bool = True
    stream: TextIO | None = None
    _count: int = field(default=0, init=False)
    _start: float = field(default_factory=time.perf_counter, init=False)
    _last: float = field(default_factory=time.perf_counter, init=False)

    def _write(self, text: str) -> None:
        if self.enabled:
            out = self.stream or sys.stderr
            out.write(text + "\n")
            out.flush()

    def step(self, label: str) -> None:
        """Announce the next step."""
        now = time.perf_counter()
        self._count += 1
        counter = f"{self._count}/{self.total}" if self.total else str(self._count)
        self._write(f"[{counter}] {label} (+{now - self._last:.1f} s)")
        self._last = now

    def done(self, message: str) -> None:
        """Announce the end with the total time."""
        self._write(f"{message} ({time.perf_counter() - self._start:.1f} s in all)")
