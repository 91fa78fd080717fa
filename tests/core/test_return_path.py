"""The return path of each mail: it names the mail, survives what mail servers do to an
address, and cannot be forged."""

from __future__ import annotations

import pytest

from services.application.return_path import InvalidReturnPath, ReturnPaths

MESSAGE_ID = "<5b0c1e0e-3f7a-4c59-9d0e-2f5d2b1c9a11@urssaf.example>"
PATHS = ReturnPaths(("clé-de-l-an-dernier", "clé-de-cette-année"), "retour.urssaf.example")


def test_a_return_path_names_its_mail_within_the_length_smtp_allows() -> None:
    address = PATHS.for_message(MESSAGE_ID)
    local, _, domain = address.partition("@")
    assert domain == "retour.urssaf.example"
    assert len(local) <= 64 and local == local.lower()
    assert PATHS.mail_key(address) == "5b0c1e0e-3f7a-4c59-9d0e-2f5d2b1c9a11"


def test_it_survives_a_server_that_changes_the_case_or_adds_brackets() -> None:
    address = PATHS.for_message(MESSAGE_ID)
    assert PATHS.mail_key(f"<{address.upper()}>") == "5b0c1e0e-3f7a-4c59-9d0e-2f5d2b1c9a11"


def test_the_return_paths_of_last_year_still_verify_after_a_key_rotation() -> None:
    before = ReturnPaths(("clé-de-l-an-dernier",), "retour.urssaf.example")
    assert PATHS.mail_key(before.for_message(MESSAGE_ID)).startswith("5b0c1e0e")


@pytest.mark.parametrize(
    "forge",
    [
        lambda a: a.replace("5b0c1e0e", "5b0c1e0f"),  # another mail, same signature
        lambda a: a[: a.index("@") - 1] + "a" + a[a.index("@") :],  # a signature guessed
        lambda a: a.replace("retour.urssaf.example", "autre.example"),  # another domain
        lambda a: "postmaster@retour.urssaf.example",  # not a return path
        lambda a: "r--@retour.urssaf.example",
    ],
)
def test_a_forged_or_foreign_address_is_refused(forge: object) -> None:
    address = PATHS.for_message(MESSAGE_ID)
    with pytest.raises(InvalidReturnPath):
        PATHS.mail_key(forge(address))  # type: ignore[operator]


def test_another_key_cannot_make_a_valid_return_path() -> None:
    stranger = ReturnPaths(("une-autre-clé",), "retour.urssaf.example")
    with pytest.raises(InvalidReturnPath):
        PATHS.mail_key(stranger.for_message(MESSAGE_ID))


def test_the_unsubscribe_address_is_at_the_return_domain() -> None:
    assert PATHS.unsubscribe_address == "desabonnement@retour.urssaf.example"
    assert PATHS.is_unsubscribe("<Desabonnement@Retour.Urssaf.Example>")
    assert not PATHS.is_unsubscribe("desabonnement@autre.example")
