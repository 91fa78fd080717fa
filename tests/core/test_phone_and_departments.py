"""What an adviser or a person types: French phone numbers (mainland and overseas) and
département codes from the official list."""

from __future__ import annotations

import pytest

from services.domain.departments import DEPARTMENTS, department_code
from services.domain.phone import NotAPhoneNumber, display_phone, french_phone


@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [
        ("06 12 34 56 78", "+33612345678", "06 12 34 56 78"),
        ("+33 6 12 34 56 78", "+33612345678", "06 12 34 56 78"),
        ("0033612345678", "+33612345678", "06 12 34 56 78"),
        ("02.31.12.34.56", "+33231123456", "02 31 12 34 56"),
        ("0590 12 34 56", "+590590123456", "0590 12 34 56"),  # Guadeloupe
        ("0692 12 34 56", "+262692123456", "0692 12 34 56"),  # La Réunion, mobile
    ],
)
def test_a_french_number_is_stored_once_and_shown_the_french_way(
    typed: str, stored: str, shown: str
) -> None:
    assert french_phone(typed) == stored
    assert display_phone(stored) == shown


@pytest.mark.parametrize("typed", ["", "12 34", "06 12 34 56", "+1 212 555 0100", "x" * 50])
def test_what_cannot_be_called_in_france_is_refused(typed: str) -> None:
    with pytest.raises(NotAPhoneNumber):
        french_phone(typed)


def test_the_departements_are_the_official_ones() -> None:
    assert len(DEPARTMENTS) == 101
    assert department_code(" 2a ") == "2A" and department_code("1") == "01"
    for typed in ("20", "99", "975", "00", "96", "A1"):
        with pytest.raises(ValueError, match="not a French département"):
            department_code(typed)
