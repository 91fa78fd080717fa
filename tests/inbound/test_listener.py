"""Stories of the inbound listener: what bounces, complaints and mails to the unsubscribe
address do to a person's journey, sent by a real SMTP client to the real listener, on
SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import aiosmtplib
import pytest
from sqlalchemy import select

from services.adapters.store.tables import mails, outbox
from services.application.deliverability import TEMPORARY_FAILURES_IN_A_ROW, address_changed
from tests.inbound import samples
from tests.inbound.conftest import Mailbox, Person
from tests.store_reads import steps_of


async def statuses(box: Mailbox, person: Person) -> list[str]:
    async with box.store.transaction() as tx:
        return [step.status for step in await steps_of(tx, person.enrollment_id)]


async def events(box: Mailbox, kind: str) -> list[dict[str, object]]:
    async with box.store.transaction() as tx:
        rows = await tx.connection.execute(select(outbox.c.payload))
        payloads = [json.loads(row.payload) for row in rows]
    return [payload for payload in payloads if payload["type"] == kind]


async def test_a_letter_bounced_for_good_pauses_the_journey(mailbox: Mailbox) -> None:
    # Jeanne, restauratrice à Caen, mistyped her address: her welcome letter goes out
    jeanne = await mailbox.person("jeanne.martin@exemple.fr")
    return_path = await mailbox.send(jeanne.letters[0])
    # her provider's server sends the bounce back to the letter's return path
    await mailbox.deliver(
        return_path,
        samples.postfix_dsn_hard(return_path, jeanne.email, "<x@urssaf.example>"),
    )
    # the journey is paused: the letters still ahead wait, nothing more is sent
    async with mailbox.store.transaction() as tx:
        enrollment = await tx.enrollment(jeanne.enrollment_id)
        letter = await tx.step(jeanne.letters[0])
    assert enrollment is not None and enrollment.undeliverable_since is not None
    assert enrollment.status == "active"
    assert await statuses(mailbox, jeanne) == ["sent", "paused", "paused", "paused"]
    # the reason is on the letter, without the address
    assert letter is not None and letter.bounce == "permanent"
    assert letter.bounce_reason is not None and "5.1.1" in letter.bounce_reason
    assert jeanne.email not in letter.bounce_reason
    # advisers are told
    (told,) = await events(mailbox, "contact.undeliverable")
    assert told["enrollment_id"] == jeanne.enrollment_id


async def test_a_bounce_for_a_mail_of_the_ledger_is_recorded_on_its_row(mailbox: Mailbox) -> None:
    # Jeanne's welcome letter was written into the mail ledger and sent from there
    jeanne = await mailbox.person("jeanne.martin@exemple.fr")
    mail_id = "5b0c1e0e-3f7a-4c59-9d0e-2f5d2b1c9a11"
    return_path = await mailbox.send_from_ledger(jeanne, mail_id)
    await mailbox.deliver(
        return_path, samples.office365_ndr(return_path, jeanne.email, "<x@urssaf.example>")
    )
    # the ledger row keeps the verdict and the reason; the journey is paused
    async with mailbox.store.transaction() as tx:
        row = (
            await tx.connection.execute(
                select(mails.c.bounce, mails.c.reason, mails.c.status).where(mails.c.id == mail_id)
            )
        ).one()
        enrollment = await tx.enrollment(jeanne.enrollment_id)
    assert (row.bounce, row.status) == ("permanent", "sent")
    assert "RecipientNotFound" in row.reason
    assert enrollment is not None and enrollment.undeliverable_since is not None


async def test_the_same_bounce_received_twice_changes_nothing_more(mailbox: Mailbox) -> None:
    # Paul's letter bounces; his provider's server sends the bounce twice
    paul = await mailbox.person("paul.durand@exemple.fr")
    return_path = await mailbox.send(paul.letters[0])
    bounce = samples.gmail_hard(return_path, paul.email, "<x@urssaf.example>")
    await mailbox.deliver(return_path, bounce)
    async with mailbox.store.transaction() as tx:
        first = await tx.enrollment(paul.enrollment_id)
    mailbox.clock.advance(timedelta(hours=1))
    await mailbox.deliver(return_path, bounce)
    # one pause, one event for advisers, the first moment kept
    async with mailbox.store.transaction() as tx:
        again = await tx.enrollment(paul.enrollment_id)
    assert first is not None and again is not None
    assert again.undeliverable_since == first.undeliverable_since
    assert len(await events(mailbox, "contact.undeliverable")) == 1


async def test_temporary_failures_pause_the_journey_only_when_they_come_in_a_row(
    mailbox: Mailbox,
) -> None:
    # Sophie's mailbox is full, month after month
    sophie = await mailbox.person("sophie.leroy@exemple.fr", letters=5)
    for month in range(TEMPORARY_FAILURES_IN_A_ROW):
        return_path = await mailbox.send(sophie.letters[month])
        delayed = samples.postfix_dsn_delayed(return_path, sophie.email, "<x@urssaf.example>")
        await mailbox.deliver(return_path, delayed)
        # the same warning again (servers repeat them) counts once
        await mailbox.deliver(return_path, delayed)
        async with mailbox.store.transaction() as tx:
            enrollment = await tx.enrollment(sophie.enrollment_id)
        assert enrollment is not None
        paused = enrollment.undeliverable_since is not None
        # paused at the third letter in a row that came back, not before
        assert paused == (month == TEMPORARY_FAILURES_IN_A_ROW - 1)
        mailbox.clock.advance(timedelta(days=30))
    assert enrollment.undeliverable_reason is not None
    assert "3 échecs temporaires de suite" in enrollment.undeliverable_reason


async def test_a_letter_that_did_not_come_back_breaks_the_run_of_temporary_failures(
    mailbox: Mailbox,
) -> None:
    # Marc's mailbox was full twice, then he made room: the third letter got through
    marc = await mailbox.person("marc.petit@exemple.fr", letters=5)
    for month in range(4):
        return_path = await mailbox.send(marc.letters[month])
        if month != 2:
            delayed = samples.postfix_dsn_delayed(return_path, marc.email, "<x@urssaf.example>")
            await mailbox.deliver(return_path, delayed)
        mailbox.clock.advance(timedelta(days=30))
    # two in a row at most: the journey goes on
    async with mailbox.store.transaction() as tx:
        enrollment = await tx.enrollment(marc.enrollment_id)
    assert enrollment is not None and enrollment.undeliverable_since is None


async def test_a_new_address_resumes_the_journey_with_the_steps_still_ahead(
    mailbox: Mailbox,
) -> None:
    # Jeanne's welcome letter bounces; the journey waits
    jeanne = await mailbox.person("jeanne.martin@exemple.fr")
    return_path = await mailbox.send(jeanne.letters[0])
    await mailbox.deliver(
        return_path, samples.exim_hard(return_path, jeanne.email, "<x@urssaf.example>")
    )
    # forty days later she gives her right address: the letter of day 30 is past
    mailbox.clock.advance(timedelta(days=40))
    async with mailbox.store.transaction() as tx:
        enrollment = await tx.enrollment(jeanne.enrollment_id)
        assert enrollment is not None
        right = "jeanne.martin@example.fr"
        await tx.update_contact(jeanne.enrollment_id, email=right, first_name=None, last_name=None)
        assert await address_changed(tx, enrollment, right, mailbox.clock.now())
    # the past letter is skipped, those ahead are planned again
    assert await statuses(mailbox, jeanne) == ["sent", "skipped", "planned", "planned"]
    async with mailbox.store.transaction() as tx:
        resumed = await tx.enrollment(jeanne.enrollment_id)
    assert resumed is not None and resumed.undeliverable_since is None


async def test_a_complaint_unsubscribes_the_person(mailbox: Mailbox) -> None:
    # Luc marks the letter as spam; his provider's feedback loop reports it
    luc = await mailbox.person("luc.bernard@exemple.fr")
    return_path = await mailbox.send(luc.letters[0])
    report = samples.arf_complaint(return_path, luc.email, "<x@urssaf.example>")
    await mailbox.deliver(return_path, report)
    await mailbox.deliver(return_path, report)  # the same report twice
    # he is unsubscribed, as by the one-click link, and announced once
    async with mailbox.store.transaction() as tx:
        enrollment = await tx.enrollment(luc.enrollment_id)
    assert enrollment is not None
    assert (enrollment.status, enrollment.end_reason) == ("ended", "unsubscribed")
    assert await statuses(mailbox, luc) == ["sent", "cancelled", "cancelled", "cancelled"]
    assert len(await events(mailbox, "enrollment.ended")) == 1


async def test_a_mail_to_the_unsubscribe_address_unsubscribes(mailbox: Mailbox) -> None:
    # Claire's mail client unsubscribes with the mailto: of List-Unsubscribe
    claire = await mailbox.person("claire.moreau@exemple.fr")
    await mailbox.send(claire.letters[0])
    link = mailbox.links.unsubscribe_mailto("premiers-mois@urssaf.example", claire.enrollment_id)
    mailto = urlsplit(link)
    subject = parse_qs(mailto.query)["subject"][0]
    assert mailto.path == "desabonnement@retour.urssaf.example"
    await mailbox.deliver(
        mailto.path,
        (
            f"From: {claire.email}\r\nTo: {mailto.path}\r\nSubject: {subject}\r\n\r\n"
            "This mail was sent to unsubscribe.\r\n"
        ).encode(),
        sender=claire.email,
    )
    async with mailbox.store.transaction() as tx:
        enrollment = await tx.enrollment(claire.enrollment_id)
    assert enrollment is not None
    assert (enrollment.status, enrollment.end_reason) == ("ended", "unsubscribed")


async def test_a_forged_return_path_is_refused_and_changes_nothing(mailbox: Mailbox) -> None:
    # someone who knows the address format tries to pause Jeanne's journey
    jeanne = await mailbox.person("jeanne.martin@exemple.fr")
    genuine = await mailbox.send(jeanne.letters[0])
    local, _, domain = genuine.partition("@")
    forged = f"{local[:-3]}aaa@{domain}"
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await mailbox.deliver(forged, samples.qmail_hard(forged, jeanne.email, "<x@e>"))
    assert refused.value.recipients[0].code == 550
    # and an address that is not one of the service's is refused too
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await mailbox.deliver(
            f"postmaster@{domain}", samples.qmail_hard(forged, jeanne.email, "<x@e>")
        )
    async with mailbox.store.transaction() as tx:
        enrollment = await tx.enrollment(jeanne.enrollment_id)
    assert enrollment is not None and enrollment.undeliverable_since is None
    assert await statuses(mailbox, jeanne) == ["sent", "planned", "planned", "planned"]


async def test_a_forged_unsubscribe_token_changes_nothing(mailbox: Mailbox) -> None:
    claire = await mailbox.person("claire.moreau@exemple.fr")
    address = mailbox.return_paths.unsubscribe_address
    await mailbox.deliver(
        address,
        f"From: x@example.org\r\nTo: {address}\r\nSubject: desabonnement-abc.def\r\n\r\n.".encode(),
    )
    async with mailbox.store.transaction() as tx:
        enrollment = await tx.enrollment(claire.enrollment_id)
    assert enrollment is not None and enrollment.status == "active"


async def test_an_unsubscribe_mail_with_an_encoded_subject_unsubscribes(mailbox: Mailbox) -> None:
    # Léa's mail client writes the subject as an RFC 2047 encoded word
    lea = await mailbox.person("lea.garnier@exemple.fr")
    link = mailbox.links.unsubscribe_mailto("premiers-mois@urssaf.example", lea.enrollment_id)
    mailto = urlsplit(link)
    token = parse_qs(mailto.query)["subject"][0]
    encoded = "=?utf-8?b?" + base64.b64encode(f"Re : {token}".encode()).decode() + "?="
    await mailbox.deliver(
        mailto.path,
        f"From: {lea.email}\r\nTo: {mailto.path}\r\nSubject: {encoded}\r\n\r\n.".encode(),
        sender=lea.email,
    )
    async with mailbox.store.transaction() as tx:
        enrollment = await tx.enrollment(lea.enrollment_id)
    assert enrollment is not None and enrollment.end_reason == "unsubscribed"
