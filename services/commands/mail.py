"""`premiers-mois preview NAME [--track ae|ti] [--out DIR]`: one mail with its sample data."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from services.adapters.mail.gallery import TRACKS
from services.adapters.mail.reference import load_reference
from services.adapters.mail.render import MailTemplateError, Renderer
from services.adapters.mail.samples import load_sample, with_public_url


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
