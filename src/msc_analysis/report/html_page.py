"""The interim report as one self-contained HTML page.

Tables come as :class:`~msc_analysis.render.table.DisplayTable` (rendered by
:func:`msc_analysis.render.writers.to_html`), figures as PNG bytes embedded as ``data:`` URIs, so
the page has no external links and opens anywhere, offline.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from msc_analysis.render.table import DisplayTable
from msc_analysis.render.writers import TABLE_CSS, to_html


@dataclass(frozen=True)
class FigureItem:
    """A rendered figure: number, title, PNG bytes, alternative text and footnotes."""

    number: str
    title: str
    png: bytes
    alt: str
    footnotes: tuple[str, ...] = ()

    @property
    def caption(self) -> str:
        """``"Figure 14.2.1 Title"``."""
        return f"Figure {self.number} {self.title}"


@dataclass(frozen=True)
class TextItem:
    """A paragraph (or several) of plain text, e.g. the monitoring decision in words."""

    text: str
    css_class: str = "note"


Item = DisplayTable | FigureItem | TextItem


@dataclass(frozen=True)
class Section:
    """A titled section of the report holding tables, figures and text in order."""

    title: str
    items: tuple[Item, ...] = field(default_factory=tuple)
    anchor: str = ""


_PAGE_CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;font-size:14px;color:#111;
max-width:1200px;margin:2em auto;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #333;padding-bottom:.2em;
margin-top:2.2em}table.meta td{padding:.1em 1em .1em 0;vertical-align:top}
table.msc-table{font-size:13px}figure{margin:1.5em 0}
figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-weight:bold;margin-bottom:.4em}.fn{font-size:12px;color:#333;margin:.1em 0}
.note{background:#f4f4f4;border-left:4px solid #0072B2;padding:.6em 1em}
nav ol{columns:2;font-size:13px}
"""

#: Table rules of the render core, then the page's own rules.
_CSS = TABLE_CSS + _PAGE_CSS


def _figure_html(item: FigureItem) -> str:
    data = base64.b64encode(item.png).decode("ascii")
    notes = "".join(f'<p class="fn">{html.escape(n)}</p>' for n in item.footnotes)
    return (
        f'<figure id="{_anchor(item.caption)}"><figcaption>{html.escape(item.caption)}'
        f'</figcaption><img src="data:image/png;base64,{data}" alt="{html.escape(item.alt)}">'
        f"{notes}</figure>"
    )


def _anchor(text: str) -> str:
    keep = "".join(ch if ch.isalnum() else "-" for ch in text.lower())
    return "-".join(part for part in keep.split("-") if part)[:80]


def _item_html(item: Item) -> str:
    if isinstance(item, DisplayTable):
        return f'<div id="{_anchor(item.caption)}">{to_html(item)}</div>'
    if isinstance(item, FigureItem):
        return _figure_html(item)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in item.text.split("\n\n"))
    return f'<div class="{html.escape(item.css_class)}">{paragraphs}</div>'


def _caption(item: Item) -> str | None:
    if isinstance(item, (DisplayTable, FigureItem)):
        return item.caption
    return None


def render_page(
    title: str, meta: Sequence[tuple[str, str]], sections: Sequence[Section]
) -> str:
    """Render the whole report page.

    Parameters
    ----------
    title : str
        Page title and heading.
    meta : sequence of (label, value)
        The header block (study, data cut-off, analysis sets, software ...).
    sections : sequence of Section
        The body, in order; a contents list of every table and figure opens the page.
    """
    contents = []
    body = []
    for section in sections:
        anchor = section.anchor or _anchor(section.title)
        body.append(f'<section id="{anchor}"><h2>{html.escape(section.title)}</h2>')
        for item in section.items:
            body.append(_item_html(item))
            caption = _caption(item)
            if caption:
                link = f'<a href="#{_anchor(caption)}">{html.escape(caption)}</a>'
                contents.append(f"<li>{link}</li>")
        body.append("</section>")
    meta_rows = "".join(
        f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in meta
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table class=\"meta\">{meta_rows}</table>"
        f"<nav><h2>Contents</h2><ol>{''.join(contents)}</ol></nav>"
        f"{''.join(body)}</body></html>\n"
    )
