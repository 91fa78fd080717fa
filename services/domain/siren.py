"""SIREN numbers: 9 digits whose Luhn key is valid."""

from __future__ import annotations


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def check_siren(value: str) -> str:
    """Return `value` if it is a valid SIREN, else raise ValueError saying why."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        raise ValueError("a SIREN has exactly 9 digits")
    if not luhn_valid(value):
        raise ValueError("the SIREN's check digit (Luhn key) is wrong")
    return value
