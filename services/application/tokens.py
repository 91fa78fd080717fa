"""Signed tokens for every personal link and cookie.

A token carries an opaque subject (an enrollment id, never personal data), the
purpose it was made for, and an optional expiry read on the virtual clock.
`PM_SECRET_KEY` may hold several keys: the last one signs, all of them verify,
so keys can be rotated without breaking the links already mailed.
"""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from services.adapters.clock import Clock

#: How many tokens without expiry are kept once signed.
LASTING_KEPT = 4096


class InvalidToken(Exception):
    """The token was altered, made for another purpose, or signed with an unknown key."""


class ExpiredToken(InvalidToken):
    """The token was genuine but its time is over."""


class Tokens:
    """Makes and checks signed tokens."""

    def __init__(self, keys: list[str], clock: Clock) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        self._keys = keys
        self._clock = clock
        self._serializers: dict[str, URLSafeSerializer] = {}
        self._lasting: dict[tuple[str, str], str] = {}  # recent tokens without expiry

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        serializer = self._serializers.get(purpose)
        if serializer is None:
            serializer = URLSafeSerializer(self._keys, salt=f"premiers-mois:{purpose}")
            self._serializers[purpose] = serializer
        return serializer

    def sign(self, purpose: str, subject: str, *, ttl: timedelta | None = None) -> str:
        if ttl is not None:
            payload = {"s": subject, "e": int((self._clock.now() + ttl).timestamp())}
            return str(self._serializer(purpose).dumps(payload))
        # a token without expiry is the same every time: a mail's links sign the same
        # subject several times, so the last few thousand are kept
        token = self._lasting.get((purpose, subject))
        if token is None:
            token = str(self._serializer(purpose).dumps({"s": subject}))
            if len(self._lasting) >= LASTING_KEPT:
                self._lasting.clear()
            self._lasting[(purpose, subject)] = token
        return token

    def verify(self, purpose: str, token: str) -> str:
        """The token's subject; raises InvalidToken or ExpiredToken."""
        try:
            payload = self._serializer(purpose).loads(token)
        except BadSignature:
            raise InvalidToken(purpose) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("s"), str):
            raise InvalidToken(purpose)
        expires = payload.get("e")
        if isinstance(expires, int) and self._clock.now().timestamp() > expires:
            raise ExpiredToken(purpose)
        return str(payload["s"])
