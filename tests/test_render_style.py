"""Tests of the figure style and the deterministic figure writer (msc_analysis.render.style)."""

from __future__ import annotations

import struct
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from msc_analysis.render.style import (
    OKABE_ITO,
    PALETTE,
    figure_size,
    figure_style,
    save_figure,
)


def _figure() -> plt.Figure:
    with figure_style():
        fig, ax = plt.subplots(figsize=figure_size("portrait", 0.5))
        for i in range(3):
            ax.plot([1, 2, 3], [i, i + 1, i * 2], marker="o", label=f"Subject {i}")
        ax.set_title("Total bilirubin before and after sessions")
        ax.set_xlabel("Session")
        ax.set_ylabel("TBil (\u00b5mol/L)")
        ax.legend()
    return fig


def _png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        chunks.setdefault(kind, data[pos + 8:pos + 8 + length])
        pos += 12 + length
    return chunks


def test_palette_is_okabe_ito() -> None:
    # Okabe & Ito (2008), Color Universal Design: the eight colours in hex.
    assert set(PALETTE) == {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
                            "#D55E00", "#CC79A7"}
    assert OKABE_ITO["vermillion"] == "#D55E00"
    assert PALETTE[-1] == OKABE_ITO["yellow"]  # low contrast on white: last


def test_style_applies_cycle_and_fonts_in_context_only() -> None:
    before = matplotlib.rcParams["font.size"]
    with figure_style():
        assert matplotlib.rcParams["font.size"] == 10
        assert matplotlib.rcParams["svg.hashsalt"] == "msc-analysis"
        colors = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        assert [to_hex(c).upper() for c in colors] == list(PALETTE)
    assert matplotlib.rcParams["font.size"] == before


def test_figure_size() -> None:
    assert figure_size("portrait", 0.5) == (6.5, 3.25)
    assert figure_size("landscape", 0.5) == (9.0, 4.5)
    with pytest.raises(ValueError):
        figure_size("tabloid")


def test_save_figure_png_300_dpi_and_deterministic(tmp_path: Path) -> None:
    fig = _figure()
    first = save_figure(fig, tmp_path / "a" / "f14_2_1.png")
    second = save_figure(fig, tmp_path / "b" / "f14_2_1")
    plt.close(fig)
    fig2 = _figure()  # a new, identical figure also gives the same bytes
    third = save_figure(fig2, tmp_path / "c" / "f14_2_1")
    plt.close(fig2)
    assert set(first) == {"png", "svg"}
    assert first["png"].name == "f14_2_1.png" and first["svg"].name == "f14_2_1.svg"
    for fmt in ("png", "svg"):
        assert first[fmt].read_bytes() == second[fmt].read_bytes() == third[fmt].read_bytes()
    png = first["png"].read_bytes()
    chunks = _png_chunks(png)
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert (width, height) == (6.5 * 300, 3.25 * 300)
    ppm_x, ppm_y, unit = struct.unpack(">IIB", chunks[b"pHYs"])
    assert unit == 1 and ppm_x == ppm_y == round(300 / 0.0254)  # 300 dpi in pixels per metre
    assert b"Software" not in png
    svg = first["svg"].read_text(encoding="utf-8")
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg


def test_save_figure_pdf_and_bad_format(tmp_path: Path) -> None:
    fig = _figure()
    a = save_figure(fig, tmp_path / "one" / "f", formats=("pdf",))
    b = save_figure(fig, tmp_path / "two" / "f", formats=("pdf",))
    assert a["pdf"].read_bytes() == b["pdf"].read_bytes()
    assert b"CreationDate" not in a["pdf"].read_bytes()
    with pytest.raises(ValueError, match="unknown figure formats"):
        save_figure(fig, tmp_path / "f", formats=("jpg",))
    plt.close(fig)
