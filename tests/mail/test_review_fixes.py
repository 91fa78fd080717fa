"""What the review of every mail against the seed and the official sources found, fixed.

Each test reads the mails as their sample people receive them: Jeanne, an
auto-entrepreneur in Calvados, and Karim, a classic independent in the Rhône.
"""

from __future__ import annotations

import re

import pytest

from services.adapters.mail.render import RenderedMail
from tests.mail.conftest import EVERY_MAIL

Mails = dict[tuple[str, str], RenderedMail]
NBSP = "\u00a0"


def test_the_maternity_allowance_comes_with_its_income_condition(rendered: Mails) -> None:
    for name in ("letter_06_parenthood", "notice_parenthood_rights"):
        text = rendered[(name, "ti")].text
        # 4 005 € in 2026, divided by 10 under 10 % of the annual ceiling (4 806 €)
        assert f"4\u202f005{NBSP}€" in text
        assert "divisé" in text
        assert f"4\u202f806{NBSP}€" in text


def test_the_respite_aid_is_the_health_insurance_s_for_artisans_and_shopkeepers(
    rendered: Mails,
) -> None:
    text = rendered[("letter_05_work_life_balance", "ae")].text
    respite = text[text.index("aide au répit") - 200 :]
    assert "artisan ou commerçant" in respite
    assert "Assurance maladie" in respite
    assert "l'Urssaf" not in respite.split("\n\n")[0]


def test_the_illness_letter_gives_the_income_threshold_not_the_ceiling(rendered: Mails) -> None:
    text = rendered[("letter_04_illness", "ae")].text
    assert f"inférieur à 4\u202f806{NBSP}€" in text
    assert "48\u202f060" not in text


def test_the_first_90_days_say_how_the_acre_deadline_relates_to_the_first_due_date(
    rendered: Mails,
) -> None:
    text = rendered[("letter_02_first_90_days", "ae")].text
    assert "Au moins 90 jours séparent ce début de votre première échéance" in text
    assert "l'ACRE se demande dans les 60 jours" in text
    assert "avant cette première échéance" in text
    # what changed in 2026, and the decree it comes from
    assert "décret n° 2026-69 du 6 février 2026" in text
    assert f"50{NBSP}% pour une activité commencée avant le 1er juillet 2026" in text
    assert (
        f"25{NBSP}% depuis le 1er janvier 2026" in rendered[("letter_02_first_90_days", "ti")].text
    )


def test_the_cpsti_aids_can_be_coupled_they_do_not_always_add_up(rendered: Mails) -> None:
    text = rendered[("letter_07_payment_difficulties", "ti")].text
    assert "se cumulent" not in text
    assert "peut être couplée" in text


def test_the_contributions_letter_keeps_to_what_is_sourced(rendered: Mails) -> None:
    text = rendered[("letter_03_contributions", "ti")].text
    assert "deux premières années" not in text
    # Karim started in 2026: the 2027 deadlines are not published, the letter says so
    assert "n'est pas encore publiée" in text


def test_the_sick_pay_notice_does_not_say_the_rights_are_open_before_they_are(
    rendered: Mails,
) -> None:
    mail = rendered[("notice_sick_pay_rights", "ae")]
    assert "désormais" not in mail.html
    assert "À partir du mardi 2 mars 2027" in mail.html


def test_the_first_letter_links_to_the_practical_sheet_of_the_four_steps(
    rendered: Mails,
) -> None:
    mail = rendered[("letter_01_online_account", "ae")]
    assert "4 étapes indiquées dans notre fiche pratique" in mail.text
    assert re.search(r'<a href="[^"]+">fiche pratique</a>', mail.html)


def test_the_income_return_notice_names_the_year_of_the_deadline_it_gives(
    rendered: Mails,
) -> None:
    text = rendered[("notice_income_return", "ti")].text
    assert "aux alentours" not in text
    assert "Les dates de 2027 ne sont pas encore publiées" in text
    assert "en 2026, celle de votre département était le" in text


REWRITTEN = [
    "Le plus tôt vous en parlez",
    "Si vous releviez juste avant d'un autre régime",
    "Comme travailleur indépendant",
    "SI VOUS ÊTES ARRÊTÉ",
    "se prépare aussi côté activité",
    "devrait tomber aux alentours",
    "QUAND ON DÉPASSE LES PLAFONDS",
    "vie pro/vie perso",
    "vie pro et vie perso",
]


@pytest.mark.parametrize(("name", "track"), EVERY_MAIL)
def test_each_mail_is_written_as_the_urssaf_writes(rendered: Mails, name: str, track: str) -> None:
    mail = rendered[(name, track)]
    for text in (mail.subject, mail.text):
        # the sentences the review rewrote are gone
        for sentence in REWRITTEN:
            assert sentence.lower() not in text.lower(), sentence
        # a non-breaking space before ; : ! ? and inside « », never a plain one
        assert not re.search(r"\w [;:!?](\s|$)", text), re.findall(r".{20}\w [;:!?]", text)
        assert "« " not in text and " »" not in text
        # the first day of a month is "1er"
        assert not re.search(r"\b1 (janvier|février|mars|avril|mai|juin|juillet|août)", text)
