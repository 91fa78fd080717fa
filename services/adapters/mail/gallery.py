"""Every mail rendered with its sample data on one HTML page, for `make dev`'s mail
preview page."""

from __future__ import annotations

import html
from pathlib import Path

from services.adapters.mail.reference import load_reference
from services.adapters.mail.render import Renderer
from services.adapters.mail.samples import Track, load_sample, with_public_url

TRACKS: tuple[Track, ...] = ("ae", "ti")


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
