"""`premiers-mois adviser add EMAIL`: create an adviser account, or give it a new password.

The password is asked twice on a terminal, or read from the first line of stdin
(`echo "$PASSWORD" | premiers-mois adviser add sophie@urssaf.fr`).
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from sqlalchemy.exc import DBAPIError

from services.adapters.clock import VirtualClock
from services.adapters.store.repository import Store
from services.config.settings import Settings
from services.domain.addresses import InvalidAddress, mail_address
from services.web.console.auth import create_adviser


def read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Mot de passe, encore : ") != first:
            raise ValueError("les deux saisies diffèrent")
        return first
    return stdin.readline().rstrip("\r\n")


async def add_adviser(
    settings: Settings, email: str, name: str, stdin: TextIO, stdout: TextIO
) -> int:
    try:
        email = mail_address(email).lower()
    except InvalidAddress as error:
        print(f"premiers-mois: adresse invalide\u00a0: {error.french}", file=sys.stderr)
        return 2
    try:
        password = read_password(stdin)
    except ValueError as error:
        print(f"premiers-mois: {error}", file=sys.stderr)
        return 2
    clock = VirtualClock(settings.time_origin, settings.time_speed)
    store = Store.open(settings.database_url)
    try:
        created = await create_adviser(store, email, name, password, clock.now())
    except ValueError as error:
        print(f"premiers-mois: {error}", file=sys.stderr)
        return 2
    except DBAPIError as error:
        print(
            f"premiers-mois: le stockage ne répond pas ou n'est pas à jour "
            f"(premiers-mois db upgrade) : {type(error.orig).__name__}",
            file=sys.stderr,
        )
        return 1
    finally:
        await store.close()
    if created:
        print(f"compte conseiller créé : {email.strip().lower()}", file=stdout)
    else:
        print(f"mot de passe changé : {email.strip().lower()}", file=stdout)
    return 0
