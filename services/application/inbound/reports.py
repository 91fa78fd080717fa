"""What a mail received at one of the service's addresses says (pure: no I/O).

- Bounces, delivery status notifications (RFC 3464) and the common non-standard forms
  (Exim, qmail, Exchange, Postfix without DSN…), are read by flufl.bounce, GNU
  Mailman's bounce detectors: a permanent or a temporary failure. The reason is the
  DSN's status and diagnostic when there is one, else the first SMTP reply quoted in
  the text, addresses masked.
- Complaints, feedback-loop reports (ARF, RFC 5965), are read with the stdlib `email`
  package: a `multipart/report; report-type=feedback-report` whose
  `message/feedback-report` part has a `Feedback-Type` other than `not-spam`.
- Unsubscribing by mail: the subject carries the signed token of the `mailto:` of
  `List-Unsubscribe`.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from typing import Literal

from flufl.bounce import all_failures

from services.adapters.logs import redact

Verdict = Literal["permanent", "temporary", "complaint", "other"]

#: `desabonnement-<token>` in the subject (itsdangerous' URL-safe tokens).
_UNSUBSCRIBE_TOKEN = re.compile(r"desabonnement-([A-Za-z0-9_\-.]+)")
#: An SMTP reply quoted in a bounce's text: `550 5.1.1 …`, `552-…`, `#5.1.1`.
_SMTP_REPLY = re.compile(r"\b[45]\d\d[ -][^\r\n]{3,}|#?\b[45]\.\d{1,3}\.\d{1,3}\b[^\r\n]*")
_REASON_CHARS = 300
_NO_REASON = {
    "permanent": "adresse refusée définitivement par le serveur du destinataire",
    "temporary": "adresse momentanément injoignable",
    "complaint": "signalé comme indésirable par le destinataire",
    "other": "",
}


@dataclass(frozen=True, slots=True)
class Report:
    """What a mail received at a return path says about the mail it names."""

    verdict: Verdict
    reason: str


def parse(data: bytes) -> Message:
    return email.message_from_bytes(data)


def read_report(message: Message) -> Report:
    """A complaint, a bounce (permanent or temporary), or something else (an automatic
    reply, a person answering): `other`, which changes nothing."""
    feedback = _feedback_type(message)
    if feedback is not None:
        if feedback == "not-spam":
            return Report("other", "")
        return Report("complaint", f"{_NO_REASON['complaint']} ({feedback})")
    temporary, permanent = all_failures(message)
    if permanent:
        return Report("permanent", _reason(message, "permanent"))
    if temporary:
        return Report("temporary", _reason(message, "temporary"))
    return Report("other", "")


def unsubscribe_token(message: Message) -> str | None:
    """The signed token of a mail sent to the unsubscribe address, if its subject has one."""
    raw = str(message.get("Subject", ""))
    try:
        subject = str(make_header(decode_header(raw)))
    except (LookupError, ValueError):  # an unknown charset, a broken encoded word
        subject = raw
    found = _UNSUBSCRIBE_TOKEN.search(subject.replace("\r", "").replace("\n", ""))
    return found.group(1) if found else None


def _feedback_type(message: Message) -> str | None:
    """The `Feedback-Type` of an ARF report (lower case), None if it is not one."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "feedback-report":
        return None
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields = _fields_of(part)
        return fields.get("feedback-type", "abuse").strip().lower() or "abuse"
    return "abuse"


def _fields_of(part: Message) -> dict[str, str]:
    """The fields of a `message/feedback-report` or `message/delivery-status` part
    (the email package parses the first block as a message, or keeps it as text)."""
    fields: dict[str, str] = {}
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else [payload]
    for block in blocks:
        if isinstance(block, Message):
            for key, value in block.items():
                fields.setdefault(key.lower(), str(value))
        elif isinstance(block, str):
            for line in block.splitlines():
                key, colon, value = line.partition(":")
                if colon and key and not key[0].isspace():
                    fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _reason(message: Message, verdict: Verdict) -> str:
    """Why, in the remote server's words (addresses masked), or a plain French default."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        status, diagnostic = "", ""
        payload = part.get_payload()
        for block in payload if isinstance(payload, list) else []:
            if isinstance(block, Message) and block.get("Action"):
                status = str(block.get("Status", "")).strip()
                diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
                break
        text = "; ".join(item for item in (status, diagnostic) if item)
        if text:
            return _short(text)
    for part in message.walk():
        if part.get_content_type() != "text/plain":
            continue
        body = part.get_payload(decode=True)
        if not isinstance(body, bytes):
            continue
        found = _SMTP_REPLY.search(body.decode("utf-8", "replace"))
        if found:
            return _short(found.group(0))
        break  # the first text part is the report; the next ones are the returned mail
    return _NO_REASON[verdict]


def _short(text: str) -> str:
    return redact(" ".join(text.split()))[:_REASON_CHARS]
