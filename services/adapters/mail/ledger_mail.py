"""A mail of the ledger made into MIME bytes: its template rendered with the data it was
written with, and its calendar invitation rebuilt from the same data.

Whoever writes a transactional mail into the ledger gives its whole template context as
the mail's data; an invitation goes under `INVITATION` (the arguments of
`services.adapters.mail.ics.invitation`). The mailer renders it when it sends it, and the web
view renders it again from the same data: both show what the person received.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.adapters.mail.ics import invitation
from services.adapters.mail.message import Attachment, Unsubscribe, build_message
from services.adapters.mail.render import RenderedMail, Renderer
from services.domain.records import Mail

#: The key of a mail's data that holds its calendar invitation, if it has one.
INVITATION = "invitation"


def render_mail(renderer: Renderer, mail: Mail) -> RenderedMail:
    """The mail as it was (or will be) sent: its template with its data."""
    return renderer.render(mail.template, mail.data)


def attachments_of(data: Mapping[str, Any]) -> list[Attachment]:
    spec = data.get(INVITATION)
    if not spec:
        return []
    method = str(spec["method"])
    return [
        Attachment(
            filename="invitation.ics" if method == "REQUEST" else "annulation.ics",
            content_type=f"text/calendar; method={method}; charset=utf-8",
            data=invitation(**spec),
        )
    ]


def message_of(
    renderer: Renderer,
    mail: Mail,
    *,
    mail_from: str,
    date: datetime,
    unsubscribe: Unsubscribe | None = None,
) -> bytes:
    """The complete message of a ledger mail, under its Message-ID."""
    if not mail.recipient:
        raise ValueError("this mail has no address any more")
    if not mail.message_id:
        raise ValueError("this mail's send has not begun: it has no Message-ID")
    return build_message(
        render_mail(renderer, mail),
        sender=mail_from,
        to=mail.recipient,
        message_id=mail.message_id,
        date=date,
        unsubscribe=unsubscribe,
        attachments=attachments_of(mail.data),
    )
