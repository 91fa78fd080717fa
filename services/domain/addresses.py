"""One rule for every mail address the service takes in (events, sign-up, adviser
accounts, contact changes), with email-validator: the syntax of RFC 5321/5322, no
control character, internationalised domains as IDNA 2008 allows them.

What is kept is the address as it travels in SMTP: the domain in its ASCII form
(`a@exämple.fr` is kept as `a@xn--exmple-cua.fr`), so that no later step (envelope,
`To:` header, a server without SMTPUTF8) can fail on it. An address whose local part
(before the @) is not ASCII would need SMTPUTF8 at every relay on its way: it is
refused at the entry with its reason, never half-accepted.

`mailbox_key` is what limits count by: one mailbox, whatever the case of its local
part or a `+tag` added to it (`Victim+1@Example.fr` counts as `victim@example.fr`).
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

#: The longest address SMTP carries (RFC 5321, a path of 256 octets less the brackets).
MAX_LENGTH = 254
#: Control characters (C0, DEL, C1) and the invisible ones (zero-width, direction marks,
#: line and paragraph separators, byte order mark): refused with a message of their own.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_INVALID = "Indiquez une adresse électronique valide, par exemple nom@exemple.fr."


class InvalidAddress(ValueError):
    """An address the service cannot take; `reason` says why in English (logs, DLQ),
    `french` in the words shown to a person."""

    def __init__(self, reason: str, french: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.french = french


def mail_address(value: str) -> str:
    """The address as the service keeps and sends it (ASCII), or `InvalidAddress`."""
    text = value.strip()
    if not text:
        raise InvalidAddress("empty address", _INVALID)
    if _INVISIBLE.search(text):
        raise InvalidAddress(
            "an address cannot hold control or invisible characters",
            "L'adresse électronique contient un caractère invisible ou de contrôle\u00a0: "
            "saisissez-la à nouveau.",
        )
    if len(text) > MAX_LENGTH:
        raise InvalidAddress(
            f"an address is at most {MAX_LENGTH} characters",
            f"Une adresse électronique compte au plus {MAX_LENGTH} caractères.",
        )
    try:
        checked = validate_email(
            text,
            check_deliverability=False,  # no DNS at the entry: the mail itself will tell
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as error:
        local = text.rpartition("@")[0]
        if local and not local.isascii():
            raise InvalidAddress(
                f"not an address the mail servers all accept: {error}",
                "Les lettres accentuées ne sont pas acceptées avant le «\u00a0@\u00a0»\u00a0: "
                "indiquez une adresse sans accent, par exemple jose@exemple.fr.",
            ) from None
        raise InvalidAddress(
            f"not an email address: {error}",
            _INVALID,
        ) from None
    ascii_email = checked.ascii_email
    if ascii_email is None or len(ascii_email) > MAX_LENGTH:  # pragma: no cover - guarded above
        raise InvalidAddress("not an address the mail servers all accept", _INVALID)
    return ascii_email


def mailbox_key(value: str) -> str:
    """The mailbox an address reaches, for counting: the local part in lower case and
    without its `+tag`, the domain in ASCII. An address that is not valid is its own
    key (lower case, stripped)."""
    try:
        address = mail_address(value)
    except InvalidAddress:
        return value.strip().lower()
    local, _, domain = address.rpartition("@")
    base = local.split("+", 1)[0] or local
    return f"{base.lower()}@{domain.lower()}"


def sendable(address: str, *, utf8: bool = False) -> bool:
    """True when the address can go in an SMTP envelope and a `To:` header as it is:
    printable, no space, angle bracket or quote, ASCII (or, with `utf8`, any printable
    character, for a server that offers SMTPUTF8). A last guard for addresses stored
    before the rule, checked by the SMTP transport before it touches a connection."""
    return (
        (utf8 or address.isascii())
        and address.isprintable()
        and address.count("@") == 1
        and not any(char in address for char in ' <>\\"')
    )
