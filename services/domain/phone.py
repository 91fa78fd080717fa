"""French phone numbers, read and written with `phonenumbers` (Google's libphonenumber):
what a person types ("06 12 34 56 78", "+33 6…", "0033…") becomes one E.164 form to store,
and is shown back in the national way ("06 12 34 56 78")."""

from __future__ import annotations

import phonenumbers

#: France and the overseas départements (Guadeloupe, Martinique, Guyane, Réunion, Mayotte)
FRENCH_REGIONS = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "BL", "MF", "PM"})


class NotAPhoneNumber(ValueError):
    """The text is not a valid French phone number."""


def french_phone(text: str) -> str:
    """The E.164 form ("+33612345678") of a French number; NotAPhoneNumber otherwise."""
    if len(text) > 40:
        raise NotAPhoneNumber("too long")
    for region in ("FR", *sorted(FRENCH_REGIONS - {"FR"})):  # 0590… is read in Guadeloupe
        try:
            number = phonenumbers.parse(text.strip(), region)
        except phonenumbers.NumberParseException as error:
            raise NotAPhoneNumber(str(error)) from error
        if phonenumbers.is_valid_number(number):
            if phonenumbers.region_code_for_number(number) not in FRENCH_REGIONS:
                raise NotAPhoneNumber("not a French number")
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise NotAPhoneNumber("not a valid number")


def display_phone(e164: str | None) -> str:
    """A stored number as read in France: "06 12 34 56 78"."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "FR")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
