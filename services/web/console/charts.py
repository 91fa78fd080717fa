"""Small charts drawn as inline SVG: no script, no network, readable without colours
(each bar has its figure written beside it, and the table below repeats them)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

ROW = 22
LABEL_WIDTH = 230
BAR_WIDTH = 360
COLOURS = {"sent": "#000091", "failed": "#ce0500", "unsubscribed": "#8a5a00"}


def bar_chart(rows: Sequence[tuple[str, int, int, int]], *, title: str) -> Markup:
    """One horizontal bar group per step: sent, failed, unsubscribed after it."""
    if not rows:
        return Markup('<p class="discret">Aucun courriel encore.</p>')
    top = max(max(sent, failed, unsubscribed) for _, sent, failed, unsubscribed in rows) or 1
    height = len(rows) * ROW * 3 + 30
    width = LABEL_WIDTH + BAR_WIDTH + 60
    parts = [
        f'<svg role="img" aria-labelledby="t-{_id(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="t-{_id(title)}">{escape(title)}</title>',
    ]
    y = 10
    for label, sent, failed, unsubscribed in rows:
        parts.append(
            f'<text x="0" y="{y + ROW}" font-size="13" fill="#161616">{escape(label)}</text>'
        )
        for key, value in (("sent", sent), ("failed", failed), ("unsubscribed", unsubscribed)):
            length = round(BAR_WIDTH * value / top)
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{ROW - 6}" '
                f'fill="{COLOURS[key]}"><title>{escape(_word(key))} : {value}</title></rect>'
                f'<text x="{LABEL_WIDTH + length + 4}" y="{y + ROW - 9}" font-size="12" '
                f'fill="#161616">{value}</text>'
            )
            y += ROW
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above


def _word(key: str) -> str:
    return {"sent": "envoyés", "failed": "en échec", "unsubscribed": "désabonnements"}[key]


def _id(title: str) -> str:
    return "".join(c for c in title.lower() if c.isalnum())[:40]
