"""Letters rendered per person: MJML compiled once at start-up, then Jinja per mail.

Each mail lives in `templates/emails/<name>/` (`subject.txt`, `body.mjml`,
`body.txt`, optional `preheader.txt`, `sample.yaml`). `body.mjml` holds the
sections of `<mj-body>`; the shared layout in `templates/emails/_layout/`
adds the header and the footer of the seed's letter #1. The MJML is compiled to
HTML once, with the Jinja placeholders left in; each person's mail is then one
Jinja render (autoescape, StrictUndefined) of the HTML, the text and the subject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml2html

from services.adapters.mail.french import FILTERS, typography_fr
from services.adapters.mail.reference import References, reference_for_send

LAYOUT_DIR = "_layout"
CONTENT_MARKER = "[[CONTENT]]"
PREHEADER_MARKER = "[[PREHEADER]]"
SUBJECT_MARKER = "[[SUBJECT]]"

#: Mails a person receives because of an action of theirs: no List-Unsubscribe.
TRANSACTIONAL_MAILS = frozenset(
    {
        "signup_confirmation",
        "unsubscribe_confirmation",
        "webinar_registration_confirmation",
        "webinar_reminder",
        "appointment_confirmation",
        "appointment_reminder",
        "appointment_cancellation",
        "webinar_cancellation",
    }
)


class MailTemplateError(Exception):
    """A template is missing, does not compile, or needs a value the context lacks."""


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class _CompiledMail:
    subject: jinja2.Template
    body: jinja2.Template  # subject, text part, HTML part, split by PART_SEPARATOR


#: Splits the one render of a mail into its subject, text and HTML parts.
PART_SEPARATOR = "\x00\x1e\x00"


class _MailEnvironment(jinja2.Environment):
    """Jinja with `a.b` looking up dict keys first (the contexts are dicts):
    the default tries the attribute, fails, then the key, and is 2x slower."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def _environment(*, autoescape: bool) -> jinja2.Environment:
    env = _MailEnvironment(
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
        cache_size=0,
    )
    env.filters.update(FILTERS)
    return env


def compile_mjml(source: str, *, origin: str) -> str:
    """MJML to HTML, the Jinja placeholders left in; names the template on error."""
    try:
        return mjml2html(source, disable_comments=True)
    except ValueError as exc:  # mrml gives no line: say at least which template
        raise MailTemplateError(f"{origin}: MJML does not compile: {exc}") from exc


class Renderer:
    """Renders every mail of `templates_dir`; the référentiel is given to templates as `ref`.

    `reference`: every year's référentiel (`References`): a mail gets the one of the
    year it is sent in (its `step.due_at`, else `sent_on`), or one year's context
    for every mail (previews).
    """

    def __init__(self, templates_dir: Path, reference: Mapping[str, Any] | References) -> None:
        self._references = reference if isinstance(reference, References) else None
        self._by_year: dict[int | None, Mapping[str, Any]] = {}
        if not isinstance(reference, References):
            year = reference.get("year")
            self._reference: Mapping[str, Any] = {"send_year": year, "current": True, **reference}
        self._html_env = _environment(autoescape=True)
        self._text_env = _environment(autoescape=False)  # the subject only
        layout_dir = templates_dir / LAYOUT_DIR
        layout_mjml = _read(layout_dir / "layout.mjml")
        layout_txt = _read(layout_dir / "layout.txt")
        self._mails: dict[str, _CompiledMail] = {}
        for folder in sorted(templates_dir.iterdir()):
            if not folder.is_dir() or folder.name.startswith(("_", ".")):
                continue
            self._mails[folder.name] = self._compile(folder, layout_mjml, layout_txt)

    def _compile(self, folder: Path, layout_mjml: str, layout_txt: str) -> _CompiledMail:
        name = folder.name
        preheader_path = folder / "preheader.txt"
        # French spacing (non-breaking spaces before ; : ! ? and inside « ») is set once
        # here, on the sources, so that no template has to write U+00A0 by hand.
        preheader = typography_fr(_read(preheader_path).strip()) if preheader_path.exists() else ""
        subject = typography_fr(_read(folder / "subject.txt").strip())
        # The subject and the preheader are written into the HTML source itself, so
        # that one Jinja render yields the whole mail (each render costs ~20 µs of setup).
        mjml = typography_fr(
            layout_mjml.replace(CONTENT_MARKER, _read(folder / "body.mjml"))
            .replace(PREHEADER_MARKER, preheader)
            .replace(SUBJECT_MARKER, subject)
        )
        html_source = compile_mjml(mjml, origin=f"{name}/body.mjml")
        text_source = typography_fr(
            layout_txt.replace(CONTENT_MARKER, _read(folder / "body.txt").strip("\n"))
        )
        for part, source in (("body.mjml", html_source), ("body.txt", text_source)):
            if PART_SEPARATOR in source or "endautoescape" in source:
                raise MailTemplateError(f"{name}/{part}: holds a reserved sequence")
        try:
            return _CompiledMail(
                subject=self._text_env.from_string(subject),
                body=self._html_env.from_string(
                    "{% autoescape false %}"
                    + subject
                    + PART_SEPARATOR
                    + text_source
                    + "\n{% endautoescape %}"
                    + PART_SEPARATOR
                    + html_source
                ),
            )
        except jinja2.TemplateSyntaxError as exc:
            raise MailTemplateError(
                f"{name}: Jinja syntax error: {exc.message} (line {exc.lineno})"
            ) from exc

    def names(self) -> list[str]:
        return list(self._mails)

    def is_journey_mail(self, name: str) -> bool:
        self._get(name)
        return name not in TRANSACTIONAL_MAILS

    def subject(self, name: str, context: Mapping[str, Any]) -> str:
        mail = self._get(name)
        return _one_line(_render(name, "subject.txt", mail.subject, self._context(name, context)))

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedMail:
        mail = self._get(name)
        whole = _render(name, "body", mail.body, self._context(name, context))
        subject, text, html = whole.split(PART_SEPARATOR, 2)
        return RenderedMail(subject=_one_line(subject), html=html, text=text)

    def reference(self, sent_on: date | datetime | None) -> Mapping[str, Any]:
        """`ref` for a mail sent on `sent_on` (cached per year)."""
        if self._references is None:
            return self._reference
        year = sent_on.year if sent_on is not None else None
        found = self._by_year.get(year)
        if found is None:
            found = self._by_year[year] = reference_for_send(self._references, sent_on)
        return found

    @property
    def references(self) -> References | None:
        """Every year's référentiel, when the renderer was given them."""
        return self._references

    def _context(self, name: str, context: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **context,
            "ref": self.reference(_sent_on(context)),
            "journey_mail": name not in TRANSACTIONAL_MAILS,
        }

    def _get(self, name: str) -> _CompiledMail:
        try:
            return self._mails[name]
        except KeyError:
            raise MailTemplateError(f"no mail template named {name!r}") from None


def _render(name: str, part: str, template: jinja2.Template, values: dict[str, Any]) -> str:
    try:
        # The context is the only namespace (no Jinja globals such as `range`):
        # `shared=True` skips copying them into every context, 12 µs a render.
        return "".join(template.root_render_func(template.new_context(values, shared=True)))
    except jinja2.UndefinedError as exc:
        raise MailTemplateError(f"{name}/{part}: undefined value: {exc.message}") from exc


def _sent_on(context: Mapping[str, Any]) -> date | None:
    """The day a mail goes out: its step's due time, else `sent_on`, else unknown."""
    step = context.get("step")
    moment = step.get("due_at") if isinstance(step, Mapping) else None
    moment = moment or context.get("sent_on")
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime):
        return moment.date()
    return moment if isinstance(moment, date) else None


_FOLD = re.compile(r"[ \t\r\n]+")


def _one_line(text: str) -> str:
    """The text on one line; the non-breaking spaces of French typography stay."""
    return _FOLD.sub(" ", text).strip()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MailTemplateError(f"missing template file {path}") from None
