"""The MIME bytes are valid: the stdlib parser reads back every header and part."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from services.adapters.mail.message import Attachment, Unsubscribe, build_message
from services.adapters.mail.render import RenderedMail, Renderer
from tests.mail.conftest import sample

SENDER = "Mes premiers mois avec l'Urssaf <premiers-mois@localhost>"
UNSUBSCRIBE = Unsubscribe(
    url="https://premiers-mois.example.fr/desabonnement/" + "a1b2c3d4" * 12,
    mailto="mailto:desabonnement@premiers-mois.example.fr?subject=" + "a1b2c3d4" * 6,
)
SENT_AT = datetime(2026, 5, 4, 9, 0, tzinfo=timezone(timedelta(hours=2)))


def build(mail: RenderedMail, **options: object) -> bytes:
    arguments: dict[str, object] = {
        "sender": SENDER,
        "to": "Jeanne Martin <jeanne.martin@example.fr>",
        "message_id": "<letter-03.732829320@premiers-mois>",
        "date": SENT_AT,
    }
    arguments.update(options)
    return build_message(mail, **arguments)  # type: ignore[arg-type]


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def letter(renderer: Renderer) -> RenderedMail:
    return renderer.render("letter_03_contributions", sample("letter_03_contributions", "ae"))


def test_jeannes_letter_reads_back_with_its_french_subject_and_both_parts(
    letter: RenderedMail,
) -> None:
    message = parsed(build(letter, unsubscribe=UNSUBSCRIBE))
    assert message["Subject"] == letter.subject
    assert message["From"] == SENDER
    assert message["To"] == "Jeanne Martin <jeanne.martin@example.fr>"
    assert message["Message-ID"] == "<letter-03.732829320@premiers-mois>"
    assert message["Content-Language"] == "fr"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"].datetime == SENT_AT
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content() == letter.text
    assert html.get_content() == letter.html
    assert all(not part.defects for part in message.walk())


def test_a_journey_mail_offers_one_click_unsubscribe_with_both_addresses_intact(
    letter: RenderedMail,
) -> None:
    raw = build(letter, unsubscribe=UNSUBSCRIBE)
    message = parsed(raw)
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE.url}>, <{UNSUBSCRIBE.mailto}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert b"=?" not in raw.split(b"List-Unsubscribe:", 1)[1].split(b"\r\nList-Unsubscribe-Post")[0]


def test_a_transactional_mail_has_no_unsubscribe_headers(letter: RenderedMail) -> None:
    message = parsed(build(letter))
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None


def test_lines_end_in_crlf_and_stay_short(letter: RenderedMail) -> None:
    raw = build(letter, unsubscribe=UNSUBSCRIBE)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        # A URL cannot be folded: those lines only keep under the hard limit.
        limit = 998 if b"<https://" in line or b"<mailto:" in line else 78
        assert len(line) <= limit, line
    for line in body.split(b"\r\n"):
        assert len(line) <= 76, line
    assert raw.isascii()


def test_a_long_french_subject_is_encoded_without_cutting_a_letter(renderer: Renderer) -> None:
    subject = "Éléonore, votre échéance approche : " + "déclaration à faire " * 6
    mail = RenderedMail(subject=subject.strip(), html="<p>é</p>", text="é\n")
    raw = build(mail)
    assert re.search(rb"Subject: =\?utf-8\?b\?", raw)
    assert parsed(raw)["Subject"] == subject.strip()


def test_two_messages_get_different_boundaries(letter: RenderedMail) -> None:
    first = parsed(build(letter)).get_boundary()
    second = parsed(build(letter)).get_boundary()
    assert first and second and first != second


def test_an_invitation_travels_as_an_attachment_beside_the_alternative(
    letter: RenderedMail,
) -> None:
    ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    raw = build(
        letter,
        attachments=[
            Attachment("invitation.ics", "text/calendar; method=REQUEST; charset=utf-8", ics)
        ],
    )
    message = parsed(raw)
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    invitation = parts[1]
    assert invitation.get_content_type() == "text/calendar"
    assert invitation.get_param("method") == "REQUEST"
    assert invitation.get_filename() == "invitation.ics"
    assert invitation.get_content_disposition() == "attachment"
    assert invitation.get_payload(decode=True) == ics
    body = message.get_body(("html",))
    assert body is not None and body.get_content() == letter.html


def test_a_message_id_without_brackets_gets_them(letter: RenderedMail) -> None:
    assert (
        parsed(build(letter, message_id="x.1@premiers-mois"))["Message-ID"] == "<x.1@premiers-mois>"
    )


def test_a_line_break_in_an_address_is_refused(letter: RenderedMail) -> None:
    with pytest.raises(ValueError, match="control character"):
        build(letter, to="jeanne@example.fr\r\nBcc: everyone@example.fr")


@pytest.mark.parametrize("address", ["x\x00y@example.fr", "x\x7fy@example.fr", "a\tb@example.fr"])
def test_a_control_character_in_an_address_is_refused(letter: RenderedMail, address: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        build(letter, to=address)


def test_no_header_carries_a_control_character_a_person_typed(letter: RenderedMail) -> None:
    # a first name typed with a NUL byte and a line break reached the subject
    typed = replace(letter, subject="Bienvenue Jo\u0000hn\r\nBcc: tous@example.fr")
    raw = build(typed)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\x00" not in head
    assert b"\nBcc:" not in head
    assert parsed(raw)["Subject"] == "Bienvenue Jo hn Bcc: tous@example.fr"


def test_an_internationalised_domain_goes_in_its_ascii_form(letter: RenderedMail) -> None:
    message = parsed(build(letter, to="José <jose@exämple.fr>"))
    assert message["To"] == "José <jose@xn--exmple-cua.fr>"


def test_a_date_without_time_zone_is_refused(letter: RenderedMail) -> None:
    with pytest.raises(ValueError, match="time zone"):
        build(letter, date=datetime(2026, 5, 4, 9, 0))


def test_a_non_ascii_display_name_is_encoded(letter: RenderedMail) -> None:
    message = parsed(
        build(letter, to="Hélène Durand <helene@example.fr>", date=SENT_AT.astimezone(UTC))
    )
    assert message["To"] == "Hélène Durand <helene@example.fr>"
