"""What an adviser's password must be, as NIST SP 800-63B (revision 4) says for a
password that is the only factor: at least 15 characters, up to 256 accepted (every
character counts, spaces and accents included, nothing truncated), no composition
rule, and never a password found in lists of common, expected or leaked passwords.

The lists and the guessing model are zxcvbn's (maintained, shipped with the package:
no network): a password it scores below 4 (fewer than 10^10 guesses: "very unguessable") is refused,
and so is one that holds the adviser's own address or name.
"""

from __future__ import annotations

import unicodedata

from zxcvbn import zxcvbn

MIN_LENGTH = 15
MAX_LENGTH = 256
MIN_SCORE = 4
#: zxcvbn's cost grows with the length: what it judges is the start (a long passphrase
#: whose first 100 characters are guessable is refused anyway).
_JUDGED = 100


class WeakPassword(ValueError):
    """A password refused; the message says why, in French."""


def check_password(password: str, *, context: tuple[str, ...] = ()) -> str:
    """The password to keep (Unicode NFC, as NIST asks), or `WeakPassword`. `context`:
    words an attacker would try first (the adviser's address and name)."""
    normalised = unicodedata.normalize("NFC", password)
    if any(unicodedata.category(char) == "Cc" for char in normalised):
        raise WeakPassword("le mot de passe ne peut pas contenir de caractère de contrôle")
    if len(normalised) < MIN_LENGTH:
        raise WeakPassword(f"le mot de passe doit compter au moins {MIN_LENGTH} caractères")
    if len(normalised) > MAX_LENGTH:
        raise WeakPassword(f"le mot de passe compte au plus {MAX_LENGTH} caractères")
    words = [part for value in context for part in _words(value)]
    folded = _letters(normalised)
    if any(len(_letters(word)) >= 4 and _letters(word) in folded for word in words):
        raise WeakPassword("le mot de passe ne doit contenir ni l'adresse ni le nom de la personne")
    verdict = zxcvbn(normalised[:_JUDGED], user_inputs=words)
    if int(verdict["score"]) < MIN_SCORE:
        raise WeakPassword(
            "ce mot de passe est trop facile à deviner (mot de passe courant, répétition, "
            "suite de touches ou nom de la personne)\u00a0: choisissez une phrase de passe "
            "de plusieurs mots"
        )
    return normalised


def _letters(value: str) -> str:
    """Only the letters and digits, in lower case, without accents."""
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(char for char in decomposed if char.isalnum() and char.isascii())


def _words(value: str) -> list[str]:
    """An address or a name, and the words it is made of."""
    lowered = value.lower()
    parts = [lowered]
    for separator in "@.+-_ ":
        lowered = lowered.replace(separator, " ")
    parts.extend(word for word in lowered.split() if len(word) > 2)
    if "@" in value:
        parts.append(value.lower().rpartition("@")[0])  # the local part, whole
    return parts
