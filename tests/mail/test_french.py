"""French as the Urssaf writes it: spacing, "1er", agreement (for mails and pages alike)."""

from __future__ import annotations

from datetime import date

from services.adapters.mail.french import (
    date_fr,
    day_month_fr,
    days_fr,
    received_fr,
    short_date_fr,
    typography_fr,
)

NBSP = "\u00a0"


def test_punctuation_gets_its_non_breaking_space_and_links_and_styles_do_not() -> None:
    text = "Rappel : « oui » ! Vraiment ? Oui ; http://x.fr a { color: #fff; }"
    assert typography_fr(text) == (
        f"Rappel{NBSP}: «{NBSP}oui{NBSP}»{NBSP}! Vraiment{NBSP}? Oui{NBSP}; "
        "http://x.fr a { color: #fff; }"
    )
    # applied twice, nothing more changes
    assert typography_fr(typography_fr(text)) == typography_fr(text)


def test_the_first_of_a_month_is_written_1er() -> None:
    assert date_fr(date(2026, 5, 1)) == "vendredi 1er mai 2026"
    assert short_date_fr(date(2026, 1, 1)) == "1er janvier 2026"
    assert day_month_fr("01-01") == "1er janvier"
    assert days_fr(["04-30", "07-31", "10-31", "01-31"]) == (
        "30 avril, 31 juillet, 31 octobre et 31 janvier"
    )


def test_a_received_mail_agrees_with_its_noun() -> None:
    assert received_fr("letter") == "Lettre d'information, reçue le"
    assert received_fr("notification") == "Notification, reçue le"
    assert received_fr("something_else") == "Courriel, reçu le"
