"""The return path of each mail (VERP): an envelope sender at `PM_RETURN_DOMAIN` that
names the mail, signed so that nobody can forge one, and the address that unsubscribes
by mail.

`r-<id>-<signature>@<domain>`: `<id>` is the local part of the mail's Message-ID (the
mail is looked up by it when a bounce comes back), `<signature>` an HMAC-SHA256 of it
under `PM_SECRET_KEY`, cut to 64 bits and written in lower-case base32.
Lower case only, because some mail servers fold the case of the local part; 64 bits,
because a forger can only guess online, one SMTP transaction per guess; the whole
local part stays under the 64 characters RFC 5321 allows. Several keys verify (the
last one signs), as for every other token.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

PREFIX = "r-"
UNSUBSCRIBE_LOCAL_PART = "desabonnement"
#: The longest Message-ID local part a return path carries (RFC 5321: 64 in all).
MAX_ID = 48
_SIGNATURE_BYTES = 8
_SIGNATURE_CHARS = 13  # 8 bytes in base32, without padding
_ID = re.compile(r"[a-z0-9][a-z0-9.-]*")


class InvalidReturnPath(ValueError):
    """Not one of the service's return paths, or its signature does not hold."""


@dataclass(frozen=True, slots=True)
class ReturnPaths:
    """Makes and reads the service's return paths at `domain`."""

    keys: tuple[str, ...]
    domain: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one secret key is needed")

    @property
    def unsubscribe_address(self) -> str:
        """Where `List-Unsubscribe`'s `mailto:` points."""
        return f"{UNSUBSCRIBE_LOCAL_PART}@{self.domain}"

    def for_message(self, message_id: str) -> str:
        """The envelope sender of the mail whose Message-ID is `message_id`."""
        local = _local_part(message_id)
        if len(local) > MAX_ID or not _ID.fullmatch(local):
            raise ValueError(f"this Message-ID cannot go into a return path: {message_id!r}")
        return f"{PREFIX}{local}-{_sign(self.keys[-1], local)}@{self.domain}"

    def mail_key(self, address: str) -> str:
        """The local part of the Message-ID a return path names (what `for_message` was
        given, lower case); `InvalidReturnPath` if it is not one of ours or was altered."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        local = local.lower()
        if domain.lower() != self.domain.lower() or not local.startswith(PREFIX):
            raise InvalidReturnPath("not a return path of this service")
        body, _, signature = local[len(PREFIX) :].rpartition("-")
        if not body or len(signature) != _SIGNATURE_CHARS or not _ID.fullmatch(body):
            raise InvalidReturnPath("malformed return path")
        for key in self.keys:
            if hmac.compare_digest(_sign(key, body), signature):
                return body
        raise InvalidReturnPath("bad signature")

    def is_unsubscribe(self, address: str) -> bool:
        local, _, domain = address.strip().strip("<>").rpartition("@")
        return local.lower() == UNSUBSCRIBE_LOCAL_PART and domain.lower() == self.domain.lower()


def _local_part(message_id: str) -> str:
    return message_id.strip().strip("<>").rpartition("@")[0].lower()


def envelope_sender(return_paths: ReturnPaths | None, message_id: str, mail_from: str) -> str:
    """The envelope sender of the mail `message_id`: its return path, or the plain sender
    (no return paths configured, or a Message-ID too long to carry: sent all the same)."""
    if return_paths is not None:
        try:
            return return_paths.for_message(message_id)
        except ValueError:
            log.warning("no return path for this Message-ID", extra={"message_id": message_id})
    return mail_from


def _sign(key: str, local: str) -> str:
    digest = hmac.new(key.encode(), b"premiers-mois:return-path:" + local.encode(), "sha256")
    return base64.b32encode(digest.digest()[:_SIGNATURE_BYTES]).decode("ascii").rstrip("=").lower()
