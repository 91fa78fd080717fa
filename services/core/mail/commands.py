"""`premiers-mois preview NAME [--track ae|ti] [--out DIR]`: one mail with its sample data."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TextIO

from services.core.mail.reference import load_reference
from services.core.mail.render import MailTemplateError, Renderer
from services.core.mail.samples import Track, load_sample, with_public_url

TRACKS: tuple[Track, ...] = ("ae", "ti")


def preview(
    templates_dir: Path,
    reference_path: Path,
    name: str,
    track: str,
    out_dir: Path | None,
    out: TextIO,
    public_url: str,
) -> int:
    """Write `NAME.<track>.html` and `.txt` into `out_dir`, or the text part to `out`.

    Returns the exit status: 0, or 2 with one line on `out` naming the problem.
    """
    if track not in TRACKS:
        out.write(f"erreur : parcours inconnu {track!r} (ae ou ti)\n")
        return 2
    try:
        renderer = Renderer(templates_dir, load_reference(reference_path))
        if name not in renderer.names():
            known = ", ".join(renderer.names())
            out.write(f"erreur : aucun modèle nommé {name!r}. Modèles : {known}\n")
            return 2
        context = with_public_url(load_sample(templates_dir, name, track), public_url)
        mail = renderer.render(name, context)
    except (MailTemplateError, OSError, ValueError) as exc:
        out.write(f"erreur : {exc}\n")
        return 2
    if out_dir is None:
        out.write(f"Objet : {mail.subject}\n\n{mail.text}")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{name}.{track}.html"
    text_path = out_dir / f"{name}.{track}.txt"
    html_path.write_text(mail.html, encoding="utf-8")
    text_path.write_text(f"Objet : {mail.subject}\n\n{mail.text}", encoding="utf-8")
    out.write(f"{html_path}\n{text_path}\n")
    return 0


def gallery(templates_dir: Path, reference_path: Path, public_url: str) -> str:
    """An HTML page listing every mail rendered with its sample data, for both tracks
    (for `make dev`'s mail preview page): subject, journey or transactional, and the
    HTML part in an iframe (`srcdoc`)."""
    renderer = Renderer(templates_dir, load_reference(reference_path))
    rows: list[str] = []
    for name in renderer.names():
        kind = "parcours" if renderer.is_journey_mail(name) else "transactionnel"
        for track in TRACKS:
            context = with_public_url(load_sample(templates_dir, name, track), public_url)
            mail = renderer.render(name, context)
            rows.append(
                f'<section id="{name}-{track}"><h2>{html.escape(name)} · {track.upper()} · '
                f"{kind}</h2><p>Objet : {html.escape(mail.subject)}</p>"
                f'<iframe title="{html.escape(mail.subject)}" srcdoc="{html.escape(mail.html)}" '
                f'style="width:100%;max-width:640px;height:720px;border:1px solid #ccc;">'
                f"</iframe><details><summary>Texte</summary><pre>{html.escape(mail.text)}</pre>"
                f"</details></section>"
            )
    index = "".join(
        f'<li><a href="#{name}-ae">{html.escape(name)}</a></li>' for name in renderer.names()
    )
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        "<title>Modèles de courriels</title></head><body>"
        f"<h1>Modèles de courriels ({len(renderer.names())})</h1><ul>{index}</ul>"
        + "".join(rows)
        + "</body></html>"
    )
