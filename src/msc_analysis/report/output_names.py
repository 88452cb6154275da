"""File names of the report's outputs."""

from __future__ import annotations

__all__ = ["stem"]


def stem(kind: str, number: str) -> str:
    """File stem of an output: ``t14_3_1_1``, ``f14_2_1``, ``l16_2_7_1``."""
    return kind[0].lower() + number.replace(".", "_")
