"""French typography on every page: a no-break space before « : ; ! ? » and inside
guillemets, so that a colon never starts a line on a phone. Applied to the text between
tags of the rendered HTML (never inside a tag, a script, a style or a form field)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import jinja2

from services.domain.journeys.calendar import PARIS

NBSP = "\u00a0"
_KEEP = re.compile(r"(<(script|style|textarea|pre)\b.*?</\2>|<[^>]*>)", re.S | re.I)
_BEFORE = re.compile(r"(?<=\S) ([:;!?»])(?=\s|$|<|[.,)])")
_AFTER = re.compile(r"« ")


def french_spaces(html: str) -> str:
    parts = _KEEP.split(html)
    out = []
    index = 0
    while index < len(parts):
        text = parts[index]
        out.append(_AFTER.sub("«" + NBSP, _BEFORE.sub(NBSP + r"\1", text)))
        if index + 1 < len(parts):
            out.append(parts[index + 1])  # a tag or a kept block, unchanged
        index += 3  # re.split also returns the inner group
    return "".join(out)


class FrenchTemplate(jinja2.Template):
    """A page template whose output follows French typography."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        return french_spaces(super().render(*args, **kwargs))


def paris_time(moment: datetime) -> str:
    """A moment as people in France read it: 02/03/2026 09:00 (Paris time)."""
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
