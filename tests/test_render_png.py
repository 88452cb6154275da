"""Tests of the PNG encoder (msc_analysis.render.png) and the figure PNG writer.

The reference decoder is Pillow, which checks the chunk CRCs and the zlib stream; the reference
rendering is matplotlib's own PNG writer (Agg through Pillow).
"""

from __future__ import annotations

import io
import struct
import zlib

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from msc_analysis.render.png import PNG_SIGNATURE, encode_png
from msc_analysis.render.style import figure_style, png_bytes


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()  # Pillow checks each chunk's CRC and inflates the data here
    return image


def _random_image(seed: int, opaque: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgba = rng.integers(0, 256, size=(23, 37, 4), dtype=np.uint8)
    if opaque:
        rgba[..., 3] = 255
    return rgba


def test_opaque_image_is_written_as_rgb_with_the_same_pixels() -> None:
    rgba = _random_image(1, opaque=True)
    image = _decode(encode_png(rgba, 300))
    assert image.mode == "RGB" and image.size == (37, 23)
    np.testing.assert_array_equal(np.asarray(image), rgba[..., :3])
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_transparent_image_keeps_its_alpha_channel() -> None:
    rgba = _random_image(2, opaque=False)
    image = _decode(encode_png(rgba, 96))
    assert image.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(image), rgba)


def test_file_layout_by_hand() -> None:
    # A 1 x 2 white image: IHDR, pHYs, IDAT of two filter-0 rows, IEND.
    data = encode_png(np.full((2, 1, 4), 255, dtype=np.uint8), 300)
    assert data.startswith(PNG_SIGNATURE)
    # IHDR: width 1, height 2, depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
    assert data[8:33] == (b"\x00\x00\x00\x0dIHDR" + struct.pack(">IIBBBBB", 1, 2, 8, 2, 0, 0, 0)
                          + struct.pack(">I", zlib.crc32(b"IHDR" + data[16:29])))
    # pHYs: 300 dpi = 11811 pixels per metre (300 / 0.0254 = 11811.02), unit 1 (metre)
    assert data[33:54] == (b"\x00\x00\x00\x09pHYs" + struct.pack(">IIB", 11811, 11811, 1)
                           + struct.pack(">I", zlib.crc32(b"pHYs" + data[41:50])))
    (length,) = struct.unpack(">I", data[54:58])
    assert data[58:62] == b"IDAT"
    assert zlib.decompress(data[62:62 + length]) == b"\x00\xff\xff\xff" * 2
    # the IEND chunk of every PNG file
    assert data[62 + length + 4:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_image_taller_than_one_compression_block() -> None:
    # rows are compressed about 1 MB at a time: 4000 rows of 601 bytes take three blocks
    rgba = np.random.default_rng(4).integers(0, 256, size=(4000, 200, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[::7] = 255  # some white rows, as in a plot
    image = _decode(encode_png(rgba, 300))
    np.testing.assert_array_equal(np.asarray(image), rgba[..., :3])


def test_same_pixels_same_bytes() -> None:
    rgba = _random_image(3, opaque=True)
    assert encode_png(rgba, 300) == encode_png(rgba.copy(), 300)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4), np.float64),
                                 np.zeros((0, 4, 4), np.uint8)])
def test_bad_input_is_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"RGBA|empty"):
        encode_png(bad, 300)


def _figure() -> Figure:
    with figure_style():
        fig = Figure(figsize=(3.3, 2.05))  # 990 x 615 pixels at 300 dpi
        ax = fig.add_subplot()
        ax.plot([1, 2, 3], [3, 1, 2], marker="o", label="Subject 1")
        ax.set_xlabel("Session")
        ax.set_ylabel("TBil (\u00b5mol/L)")
        ax.legend()
    return fig


def test_figure_png_has_the_pixels_of_matplotlibs_own_png() -> None:
    fig = _figure()
    reference = io.BytesIO()
    fig.savefig(reference, format="png", dpi=300)
    ours = _decode(png_bytes(fig, 300))
    theirs = _decode(reference.getvalue())
    assert ours.size == theirs.size == (990, 615)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs.convert("RGB")))


def test_figure_png_ignores_a_tight_bounding_box_setting() -> None:
    fig = _figure()
    with matplotlib.rc_context({"savefig.bbox": "tight"}):
        image = _decode(png_bytes(fig, 100))
    assert image.size == (330, 205)


def test_rendered_size_follows_the_rule_agg_used() -> None:
    from msc_analysis.render.style import _rendered_size

    size = np.array([3.3, 2.05]) * 100  # 330.0 x 204.99999999999997
    assert _rendered_size(size, 330 * 205) == (330, 205)  # matplotlib >= 3.10: 1e-8 tolerance
    assert _rendered_size(size, 330 * 204) == (330, 204)  # earlier: plain truncation
    with pytest.raises(RuntimeError, match="bounding box"):
        _rendered_size(size, 100 * 100)
