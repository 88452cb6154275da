"""The interim report looked at as a reader would: the page, the pictures, the RTF files.

The report is built once on the synthetic study. Then:

(a) ``report.html`` is parsed: every image is an embedded PNG that decodes (signature, IHDR, CRC,
    IDAT inflating to exactly the pixel rows the header promises; no PIL needed), with alt text;
    nothing is fetched from outside (no http(s) source or link, no ``<link>``, no external
    script); the contents list points at anchors that exist; every TFL of the SAP appears once,
    captioned with its number and title, and inside each report section in the SAP's order.
(b) If Chromium is installed, the page is rendered headless: after load, every image has a
    natural width > 0 (a copy of the page carries a tiny script that records it in the DOM),
    and a screenshot is a non-empty PNG.
(c) Each ``tables/*.rtf`` is read back: title (number and title of the table), population,
    ``Page x of y`` from PAGE / NUMPAGES fields, and the same column headers as the table's
    HTML. If LibreOffice is installed, every RTF is converted to PDF (one run of soffice),
    which must have exactly the pages the writer made (it paginates itself, since LibreOffice
    ignores ``\\trhdr``); with poppler's ``pdftotext`` every page must read ``Page k of N``
    and show the words of the column headers that page 1 shows.
    Group headings must be the bold rows on every page of an RTF (each body row carries its own
    formatting, so nothing restarts at a page).

The PNG and RTF readers written here are themselves checked on hand-made inputs first, so that
a check that passes is not a reader that accepts anything.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from msc_analysis.report.build import build_report
from msc_analysis.sap import load_sap
from office import PDFTOTEXT, SOFFICE, pdf_text, to_pdf

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "synthetic"
SAP_FILE = REPO / "sap" / "sap.toml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Bytes per pixel of 8-bit PNG colour types (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA).
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
KIND_WORD = {"table": "Table", "figure": "Figure", "listing": "Listing"}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the synthetic study, built once for the module."""
    out = tmp_path_factory.mktemp("reader") / "report"
    build_report(DATA, out, sap_path=SAP_FILE, show_progress=False)
    return out


@pytest.fixture(scope="module")
def expected_captions() -> list[str]:
    """``"Table 14.1.1 Subject Disposition"`` ... for the SAP's TFL list, in its order."""
    return [f"{KIND_WORD[t.kind]} {t.number} {t.title}" for t in load_sap(SAP_FILE).tfls]


# --------------------------------------------------------------------------------------------
# (a) the HTML page
# --------------------------------------------------------------------------------------------


class PageParse(HTMLParser):
    """What a reader of the page meets: images, links, captions by section, ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str]] = []
        self.urls: list[tuple[str, str, str]] = []
        self.link_tags = 0
        self.scripts: list[dict[str, str]] = []
        self.ids: set[str] = set()  # element ids (anchors)
        self.internal_hrefs: list[str] = []
        self.sections: list[list[str]] = []
        self.contents: list[str] = []
        self._caption: list[str] | None = None
        self._caption_tag = ""
        self._in_nav = False
        self._nav_link: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        for name in ("src", "href", "action", "poster", "data"):
            if name in a:
                self.urls.append((tag, name, a[name]))
        if tag == "img":
            self.images.append(a)
        elif tag == "link":
            self.link_tags += 1
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "section":
            self.sections.append([])
        elif tag == "nav":
            self._in_nav = True
        elif tag == "a" and a.get("href", "").startswith("#"):
            self.internal_hrefs.append(a["href"][1:])
            if self._in_nav:
                self._nav_link = []
        elif tag in ("caption", "figcaption"):
            self._caption, self._caption_tag = [], tag
        elif tag == "br" and self._caption is not None:
            # A table caption's second line is the population: stop at the first line.
            self._caption_tag = "done-" + self._caption_tag

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav = False
        elif tag == "a" and self._nav_link is not None:
            self.contents.append(" ".join("".join(self._nav_link).split()))
            self._nav_link = None
        elif tag in ("caption", "figcaption") and self._caption is not None:
            text = " ".join("".join(self._caption).split())
            if self.sections:
                self.sections[-1].append(text)
            self._caption = None

    def handle_data(self, data: str) -> None:
        if self._caption is not None and not self._caption_tag.startswith("done-"):
            self._caption.append(data)
        if self._nav_link is not None:
            self._nav_link.append(data)


@pytest.fixture(scope="module")
def page(report: Path) -> PageParse:
    parser = PageParse()
    parser.feed((report / "report.html").read_text(encoding="utf-8"))
    parser.close()
    return parser


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG after checking it decodes; AssertionError naming the fault."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert len(body) == length, f"chunk {kind!r} truncated"
        assert zlib.crc32(kind + body) == crc, f"chunk {kind!r} fails its CRC"
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", "IHDR first, IEND last"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert width > 0 and height > 0
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    if interlace == 0 and colour in CHANNELS:
        row = 1 + (width * CHANNELS[colour] * depth + 7) // 8
        assert len(pixels) == height * row, "image data does not fill the declared size"
    return width, height


def _png(width: int, height: int, rows: bytes) -> bytes:
    """A PNG written by hand: 8-bit RGB, filter byte 0 per row."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def test_png_reader_accepts_a_valid_png_and_rejects_damaged_ones() -> None:
    rows = b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\x00\xff" * 2  # 2 x 2 pixels
    good = _png(2, 2, rows)
    assert png_size(good) == (2, 2)
    flipped = bytearray(good)
    flipped[40] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    for bad in (b"GIF89a" + good[6:], bytes(flipped), good[:-20], _png(3, 2, rows)):
        with pytest.raises((AssertionError, struct.error, zlib.error)):
            png_size(bad)


def test_every_image_is_an_embedded_png_that_decodes(page: PageParse) -> None:
    assert page.images, "the report has no images"
    for img in page.images:
        src = img.get("src", "")
        assert src.startswith("data:image/png;base64,"), f"image not embedded: {src[:60]}"
        width, height = png_size(base64.b64decode(src.split(",", 1)[1], validate=True))
        # 300 dpi figures: anything under ~3 inches wide would be unreadable in the report.
        assert width >= 900 and height >= 300, (width, height)
        assert img.get("alt", "").strip(), "an image without alternative text"


def test_page_fetches_nothing_from_outside(report: Path, page: PageParse) -> None:
    text = (report / "report.html").read_text(encoding="utf-8")
    assert page.link_tags == 0, "a <link> element (external style sheet or icon)"
    assert all("src" not in s for s in page.scripts), "an external script"
    for tag, attr, url in page.urls:
        assert url.startswith(("data:", "#")), f"<{tag} {attr}={url[:80]!r}> leaves the page"
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), "CSS fetches a remote resource"
    assert not re.search(r"@import", text), "CSS imports another style sheet"


def test_contents_links_land_on_existing_anchors(page: PageParse, report: Path) -> None:
    assert page.internal_hrefs
    ids = re.findall(r'\sid="([^"]+)"', (report / "report.html").read_text(encoding="utf-8"))
    assert len(ids) == len(set(ids)), "duplicate element ids: anchors are ambiguous"
    missing = sorted(set(page.internal_hrefs) - page.ids)
    assert not missing, f"contents links without a target: {missing}"


def test_every_tfl_of_the_sap_is_captioned_once_in_sap_order_within_sections(
        page: PageParse, expected_captions: list[str]) -> None:
    shown = [c for section in page.sections for c in section]
    assert sorted(shown) == sorted(expected_captions), (
        f"missing: {sorted(set(expected_captions) - set(shown))}; "
        f"unexpected: {sorted(set(shown) - set(expected_captions))}")
    assert len(shown) == len(set(shown)), "a TFL appears twice"
    rank = {c: i for i, c in enumerate(expected_captions)}
    for section in page.sections:
        order = [rank[c] for c in section]
        assert order == sorted(order), f"section out of the SAP's order: {section}"
    assert page.contents == shown, "the contents list differs from the body"


# --------------------------------------------------------------------------------------------
# (b) rendered by a browser
# --------------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium): the page "
                             "was checked as parsed HTML only, not as rendered")
_PROBE = """<script>window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    imgs[i].setAttribute("data-natural-width", imgs[i].naturalWidth);
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; }
  }
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-images-ok", ok);
});</script>"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}",
               *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@needs_chromium
def test_browser_loads_every_image(report: Path, page: PageParse, tmp_path: Path) -> None:
    probed = tmp_path / "report_probe.html"
    text = (report / "report.html").read_text(encoding="utf-8")
    probed.write_text(text.replace("</body>", _PROBE + "</body>", 1), encoding="utf-8")
    dom = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom",
                    probed.as_uri()).stdout
    found = re.search(r'data-images="(\d+)"[^>]*data-images-ok="(\d+)"', dom)
    assert found, "the load probe did not run (no data-images attribute in the DOM)"
    total, ok = int(found[1]), int(found[2])
    assert total == len(page.images)
    widths = [int(w) for w in re.findall(r'data-natural-width="(\d+)"', dom)]
    assert ok == total and len(widths) == total and min(widths) > 0, widths


@needs_chromium
def test_browser_screenshot_is_a_picture(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}",
              (report / "report.html").as_uri())
    width, height = png_size(shot.read_bytes())
    assert (width, height) == (1280, 2400)
    assert shot.stat().st_size > 20_000, "the screenshot is (nearly) blank"


# --------------------------------------------------------------------------------------------
# (c) the RTF tables
# --------------------------------------------------------------------------------------------

_RTF_TOKEN = re.compile(r"(\\\*)|\\u(-?\d+)\??|\\'([0-9a-fA-F]{2})|\\([a-zA-Z]+)(-?\d+)? ?"
                        r"|\\([{}\\])|([{}])|([^\\{}]+)")
_SKIP_GROUPS = ("fonttbl", "colortbl", "stylesheet", "info")


def rtf_text(rtf: str) -> str:
    """Plain text of an RTF document: skips tables of fonts/colours and field instructions,
    decodes ``\\uN?`` and ``\\'hh``, turns ``\\line``, ``\\par``, ``\\cell`` into spaces."""
    out: list[str] = []
    stack: list[bool] = [False]  # skipping, per group
    for m in _RTF_TOKEN.finditer(rtf):
        star, uni, hexa, word, _, escaped, brace, text = m.groups()
        if brace == "{":
            stack.append(stack[-1])
            continue
        if brace == "}":
            if len(stack) > 1:
                stack.pop()
            continue
        if star or word in _SKIP_GROUPS:
            stack[-1] = True
            continue
        if stack[-1]:
            continue
        if uni is not None:
            out.append(chr(int(uni) % 65536))
        elif hexa is not None:
            out.append(bytes.fromhex(hexa).decode("cp1252"))
        elif escaped is not None:
            out.append(escaped)
        elif word in ("line", "par", "cell", "row", "tab", "page"):
            out.append(" ")
        elif text is not None:
            out.append(text.replace("\r", "").replace("\n", ""))
    return " ".join("".join(out).split())


def test_rtf_reader_on_a_hand_written_document() -> None:
    raw = (r"{\rtf1\ansi{\fonttbl{\f0 Courier New;}}{\header\pard Page {\field{\*\fldinst "
           r"PAGE }} of {\field{\*\fldinst NUMPAGES }}\par}\pard\b Table 1 Caf\u233? "
           r"\'e9t\'e9\b0\line x\{y\}\cell}")
    assert rtf_text(raw) == "Page of Table 1 Café été x{y}"


def _norm(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<br\s*/?>", " ", text)).split())


def html_headers(path: Path) -> list[str]:
    """The column headers of a table's HTML file, line breaks as spaces."""
    head = re.search(r"<thead>(.*?)</thead>", path.read_text(encoding="utf-8"), re.S)
    assert head, f"{path.name}: no <thead>"
    return [_norm(re.sub(r"<(?!br)[^>]+>", "", h))
            for h in re.findall(r"<th[^>]*>(.*?)</th>", head[1], re.S)]


def test_rtf_tables_read_back_with_title_page_numbers_and_headers(
        report: Path, expected_captions: list[str]) -> None:
    rtfs = sorted((report / "tables").glob("*.rtf"))
    sap = load_sap(SAP_FILE)
    expected = {f"{t.kind[0]}{t.number.replace('.', '_')}": (t, c)
                for t, c in zip(sap.tfls, expected_captions, strict=True) if t.kind != "figure"}
    assert {p.stem for p in rtfs} == set(expected)
    for path in rtfs:
        raw = path.read_text(encoding="ascii")
        assert raw.startswith("{\\rtf1"), f"{path.name}: not an RTF document"
        opened = raw.count("{") - raw.count("\\{")
        assert opened == raw.count("}") - raw.count("\\}"), f"{path.name}: unbalanced braces"
        assert re.search(r"\\fldinst\s*\{?\s*PAGE\b", raw), f"{path.name}: no PAGE field"
        assert re.search(r"\\fldinst\s*\{?\s*NUMPAGES\b", raw), f"{path.name}: no NUMPAGES field"
        text = rtf_text(raw)
        tfl, caption = expected[path.stem]
        assert caption in text, f"{path.name}: title {caption!r} not found"
        assert sap.analysis_sets[tfl.population].label in text, f"{path.name}: no population"
        assert "Page of" in text, f"{path.name}: no 'Page x of y' line"
        for header in html_headers(path.with_suffix(".html")):
            assert header in text, f"{path.name}: column header {header!r} not in the RTF"


def _header_words(raw: str) -> list[str]:
    """Words of the column-header row (the first ``\\trhdr`` row) of an RTF table."""
    row = re.search(r"\\trowd[^\n]*\\trhdr(.*?)\\row\b", raw, re.S)
    assert row, "no header row"
    cells = re.findall(r"\{\\f\d+(?:\\b)?\s?([^{}]*)\}\\cell", row[1])
    return [w for cell in cells for w in rtf_text(cell).split() if len(w) > 1]


def test_header_words_of_a_hand_written_row() -> None:
    raw = ("\\trowd\\trhdr\\cellx100\\cellx200\n\\pard\\intbl{\\f0 Parameter}\\cell\n"
           "\\pard\\intbl{\\f0 Session 1\\line N = 9}\\cell\n\\row\n"
           "\\trowd\\cellx100\n\\pard\\intbl{\\f0 Body}\\cell\n\\row\n")
    assert _header_words(raw) == ["Parameter", "Session"]


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (apt-get install "
                                            "libreoffice-writer-nogui): RTF not converted")
def test_every_rtf_converts_to_the_writers_pages_with_headers_on_each(
        report: Path, tmp_path: Path) -> None:
    # LibreOffice ignores \trhdr on import: the writer breaks the pages itself and opens each
    # with the header row. All tables are converted in one run of soffice; each PDF must have
    # exactly the writer's pages (no break added by LibreOffice) and, read with pdftotext,
    # "Page k of n" and the column headers (their words that page 1 shows) on every page.
    assert SOFFICE is not None
    rtfs = sorted((report / "tables").glob("*.rtf"))
    to_pdf(rtfs, tmp_path)
    for rtf in rtfs:
        raw = rtf.read_text(encoding="ascii")
        written = raw.count("\\pagebb") + 1
        pdf = tmp_path / f"{rtf.stem}.pdf"
        assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-", f"{rtf.name}: no PDF"
        pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))
        assert pages == written, f"{rtf.name}: {pages} PDF pages, the writer made {written}"
        if PDFTOTEXT is None:
            continue
        text = pdf_text(pdf)
        # header words as page 1 shows them (in a column narrower than a word, the word is
        # broken over lines, and pdftotext cannot find it on any page)
        words = _header_words(raw)
        texts = text.split("\f")[:-1]
        shown = [w for w in sorted(set(words)) if texts[0].count(w) >= words.count(w)]
        assert shown or pages == 1, f"{rtf.name}: no column header word found on page 1"
        for k, page in enumerate(texts, start=1):
            assert f"Page {k} of {pages}" in page, f"{rtf.name}: page {k} not numbered"
            missing = [w for w in shown if page.count(w) < words.count(w)]
            assert not missing, f"{rtf.name}: page {k} lacks column header words {missing}"


def _rtf_bold_labels(raw: str) -> set[str]:
    """Row labels (first cell of each table row) set in bold in an RTF table."""
    bold = set()
    for row in re.findall(r"\\trowd(.*?)\\row\b", raw, re.S):
        first = re.search(r"\{\\f\d+(\\b)?\s?([^{}]*)\}\\cell", row)
        if first and first[1]:
            bold.add(rtf_text(first[2]))
    return bold


def test_rtf_group_rows_are_bold_on_every_page(report: Path) -> None:
    wrong = {}
    for path in sorted((report / "tables").glob("*.rtf")):
        page = path.with_suffix(".html").read_text(encoding="utf-8")
        groups = {_norm(re.sub(r"<[^>]+>", "", g))
                  for g in re.findall(r'<th scope="rowgroup"[^>]*>(.*?)</th>', page, re.S)}
        bold = _rtf_bold_labels(path.read_text(encoding="ascii"))
        if bold != groups:
            wrong[path.name] = (sorted(bold - groups)[:3], sorted(groups - bold)[:3])
    assert not wrong, f"bold rows that are not group headings / headings not bold: {wrong}"
