"""Checks and set-up of an Optuna storage given with ``--storage``, before RL Zoo uses it."""

import random
import time

import optuna
import sqlalchemy

from sb3_reinforce.zoo.checks import UsageError

# Workers started together on a fresh database race to create Optuna's tables: PostgreSQL fails all
# but one (a duplicate key in pg_type, or a relation that already exists), and a retry finds the tables
TABLE_CREATION_ATTEMPTS = 5


def is_journal_file(storage: str) -> bool:
    """
    Whether RL Zoo opens ``storage`` as an Optuna journal file (its rule: the name ends in ``.log``), not a database.

    :param storage: The ``--storage`` value
    """
    return storage.endswith(".log")


def hide_password(storage: str) -> str:
    """
    The storage URL with its password masked, for messages.

    :param storage: The ``--storage`` value; one that is not a URL is returned unchanged
    """
    try:
        return sqlalchemy.engine.make_url(storage).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return storage


def check_storage_reachable(storage: str) -> None:
    """
    Raise ``UsageError`` unless the database of an Optuna storage URL accepts a connection.
    It creates nothing (see :func:`create_storage_tables`).

    :param storage: A SQLAlchemy URL, e.g. ``postgresql://user@host/db`` or ``sqlite:///study.db``
    """
    shown = hide_password(storage)
    try:
        engine = sqlalchemy.create_engine(storage)
    except sqlalchemy.exc.ArgumentError as error:
        raise UsageError(
            f"--storage {shown}: neither a database URL (postgresql://user:password@host/db, sqlite:///study.db) "
            "nor a journal file ending in .log"
        ) from error
    except ImportError as error:
        raise UsageError(
            f"--storage {shown}: its database driver is not installed ({error}); "
            "for postgresql://: pip install 'psycopg[binary]'"
        ) from error
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as error:
        # The driver's own message, without the SQL and the link that SQLAlchemy adds; its first
        # line says why (the next ones add a hint and repeat it for each address of the host)
        cause = getattr(error, "orig", None) or error
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise UsageError(f"--storage {shown}: cannot connect ({reason})") from error
    finally:
        engine.dispose()


def create_storage_tables(storage: str) -> None:
    """
    Create Optuna's tables in the database of a storage URL, if they are not there yet, also when
    other workers do the same at the same time.

    :param storage: A SQLAlchemy URL that accepts connections (see :func:`check_storage_reachable`)
    """
    for attempt in range(1, TABLE_CREATION_ATTEMPTS + 1):
        try:
            optuna.storages.RDBStorage(storage).engine.dispose()
            return
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == TABLE_CREATION_ATTEMPTS:
                raise
            # Apart, so that the workers do not collide again
            time.sleep(random.uniform(0.1, 1.0))
