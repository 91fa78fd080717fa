"""Pages follow French typography: a no-break space before « : ; ! ? » and inside
guillemets, in the text only (tags, styles, scripts and form fields are left as they are)."""

from __future__ import annotations

from services.web.typography import french_spaces


def test_a_colon_never_starts_a_line_and_guillemets_hold_their_words() -> None:
    html = '<p>Rendez-vous : jeudi ! Une question ? « Oui »</p><a title="a : b">Voir ?</a>'
    assert french_spaces(html) == (
        "<p>Rendez-vous\u00a0: jeudi\u00a0! Une question\u00a0? «\u00a0Oui\u00a0»</p>"
        '<a title="a : b">Voir\u00a0?</a>'
    )


def test_styles_scripts_and_what_a_person_typed_are_left_alone() -> None:
    html = (
        "<style>td::before { content: attr(x) ' : '; }</style>"
        "<textarea>Appel : rappeler ?</textarea><script>a ? b : c</script>"
        "<p>https://visio.example.fr/salle et 15:00</p>"
    )
    assert french_spaces(html) == html
