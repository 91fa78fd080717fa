"""The driver's connection under a `Tx`, for the statements sent to asyncpg as they are
(arrays as parameters, prepared once by the driver, rows read as tuples)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from services.adapters.store.repository import Tx


async def driver(tx: Tx) -> Any:
    """The asyncpg connection under the transaction's connection, inside its transaction.

    SQLAlchemy sends BEGIN with the first statement it executes: a statement sent to the
    driver before that would commit on its own. So the transaction is begun here first.
    """
    raw = await tx.connection.get_raw_connection()
    connection = raw.driver_connection
    assert connection is not None
    if not connection.is_in_transaction():
        await tx.connection.execute(text("SELECT 1"))
        if not connection.is_in_transaction():
            raise RuntimeError("the store's transaction did not begin")
    return connection
