"""Alembic environment: runs migrations on the engine handed over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

import agritrace.models  # noqa: F401 - registers every table on Base.metadata
from agritrace.db import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    driver = connection.connection.driver_connection
    if sqlite and driver is not None:
        # Batch mode changes a table by copying it and dropping the old one, which fails
        # while rows of other tables refer to it and foreign keys are enforced. SQLite
        # ignores this pragma inside a transaction, so it goes to the driver before one
        # begins; foreign_key_check below proves the copies kept every reference.
        driver.execute("PRAGMA foreign_keys = OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                raise RuntimeError("a migration left rows referring to missing rows")
        connection.commit()
    finally:
        if sqlite and driver is not None:
            driver.execute("PRAGMA foreign_keys = ON")
