"""Hot-path statements that PostgreSQL plans once per connection instead of on every call.

A `Statement` is written once, with `:name` parameters, like `text()`. The first time a
database connection runs it, it is PREPAREd there under a name taken from its text; from then
on that connection runs it with EXECUTE, which skips the parse and the plan that a join or a
writing CTE costs on every plain call. Parameters keep their SQL types: the server infers them
from where they are used, and a statement says `CAST(:x AS type)` where it cannot.

Prepared statements live in the server session, so they need a connection that stays the same
server session (a direct connection, or a pooler in session mode). An engine made with
`make_engine(..., prepare=False)` (the setting `BACKROOM_DB_PREPARE=false`) runs the same text
plainly, as behind PgBouncer in transaction mode.

A prepared statement runs straight on the DBAPI cursor of the connection SQLAlchemy holds (in
its transaction): SQLAlchemy's per-execution machinery (execution context, result metadata)
cost more client CPU than psycopg2 itself, on statements whose shape never changes. Only
SQLAlchemy's public API is used there. A database error becomes the `sqlalchemy.exc` error
`Connection.execute` would raise, and a lost server invalidates the connection and replaces
the engine's pool, as with `Connection.execute` (see `_database_error`). When anything listens
to the engine's execution or error events, or its SQL is logged, statements take SQLAlchemy's
path so the listeners and the log see them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import namedtuple
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, CursorResult, TextClause, text
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection

PREPARE_OPTION = "backroom_prepare"  # an engine execution option; default on
_PARAM = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # what `text()` takes for a bind parameter
_CONNECTION = "backroom.connection"  # session info: (transaction, its connection, instrumented)
_PREPARED = "backroom.prepared"  # connection info: (DBAPI connection, names prepared on it)


class Rows(list[Any]):
    """A statement's rows, all fetched; each row is a tuple with its columns as attributes."""

    rowcount = -1

    def __init__(self, rows: Iterable[Any] = (), rowcount: int = -1) -> None:
        super().__init__(rows)
        self.rowcount = rowcount

    @classmethod
    def of(cls, result: CursorResult[Any]) -> Rows:
        """The rows of a statement SQLAlchemy ran."""
        return cls(result.all() if result.returns_rows else (), result.rowcount)

    def all(self) -> list[Any]:
        return list(self)

    def first(self) -> Any:
        return self[0] if self else None

    def one_or_none(self) -> Any:
        if len(self) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self) -> Any:
        if not self:
            raise NoResultFound("No row was found when one was required")
        return self.one_or_none()

    def scalar(self) -> Any:
        return self[0][0] if self else None

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]


class Statement:
    """One SQL statement with `:name` parameters, prepared per connection on first use."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.plain: TextClause = text(sql)
        self.name = "br_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
        order: list[str] = []
        for found in _PARAM.findall(sql):
            if found not in order:
                order.append(found)
        numbered = _PARAM.sub(lambda m: f"${order.index(m.group(1)) + 1}", sql)
        self._prepare = f"PREPARE {self.name} AS {numbered}"
        arguments = ", ".join(f":{name}" for name in order)
        self._execute = text(
            f"EXECUTE {self.name}({arguments})" if order else f"EXECUTE {self.name}"
        )
        pyformat = ", ".join(f"%({name})s" for name in order)
        self._execute_dbapi = (
            f"EXECUTE {self.name}({pyformat})" if order else f"EXECUTE {self.name}"
        )
        self._rows: Any = None  # the named tuple of its rows, made on the first run

    def __repr__(self) -> str:
        return f"Statement({self.name}: {' '.join(self.sql.split())[:60]!r})"

    def prepare(self, conn: Connection) -> None:
        """PREPARE this statement on `conn` now: the server parses and plans it against the
        schema, so a table or column it names that is not there fails here, before any row."""
        prepared = _prepared_on(conn)
        if self.name not in prepared:
            conn.exec_driver_sql(self._prepare, execution_options={"no_parameters": True})
            prepared.add(self.name)

    def run(self, session: Session | Connection, params: Mapping[str, Any] | None = None) -> Rows:
        """Execute on `session`'s connection (preparing it there first if needed); its rows."""
        conn, instrumented = _connection(session)
        params = params or {}
        if not conn.get_execution_options().get(PREPARE_OPTION, True):
            return Rows.of(conn.execute(self.plain, params))
        prepared = _prepared_on(conn)
        if instrumented:
            self.prepare(conn)
            return Rows.of(conn.execute(self._execute, params))
        return self._run_on_cursor(conn, prepared, params)

    def _run_on_cursor(
        self, conn: Connection, prepared: set[str], params: Mapping[str, Any]
    ) -> Rows:
        if not conn.in_transaction():
            conn.begin()  # as `Connection.execute` would (autobegin)
        pooled = conn.connection
        cursor = pooled.dbapi_connection.cursor()  # type: ignore[union-attr]
        statement = self._prepare
        try:
            if self.name not in prepared:
                cursor.execute(statement)  # no parameters: a % in the SQL stays SQL
                prepared.add(self.name)
            statement = self._execute_dbapi
            cursor.execute(statement, params)
            if cursor.description is None:
                return Rows((), cursor.rowcount)
            row_type = self._row_type(cursor.description)
            return Rows(map(row_type._make, cursor.fetchall()), cursor.rowcount)
        except conn.dialect.loaded_dbapi.Error as error:  # the database's: as SQLAlchemy's
            raise _database_error(conn, pooled, error, statement, params, cursor) from error
        except Exception:  # not the database's (a soft time limit, say): passed on as it is
            raise
        except BaseException as error:  # an exit: SQLAlchemy drops the connection, so do we
            if not conn.closed:
                conn.invalidate(error)  # the statement may be half sent: the session is unusable
            raise
        finally:
            cursor.close()

    def _row_type(self, description: Any) -> Any:
        """The named tuple of this statement's rows. Its SQL names its columns, so one type
        serves every run; a different column count (`*` after a migration) builds it anew."""
        found = self._rows
        if found is None or len(found._fields) != len(description):
            names = tuple(column[0] for column in description)
            found = self._rows = namedtuple("Row", names, rename=True)
        return found


def _connection(session: Session | Connection) -> tuple[Connection, bool]:
    """The connection to run on, and whether it is `_instrumented`.

    A session's pair is remembered for its current transaction: `session.connection()` walks
    the session's state machine and the check reads five event lists, and a unit of work runs a
    dozen statements. So a listener added in the middle of a session's transaction takes effect
    from its next transaction; a connection is checked on every statement."""
    if isinstance(session, Connection):
        return session, _instrumented(session)
    transaction = session.get_transaction()
    known = session.info.get(_CONNECTION)
    if transaction is not None and known is not None and known[0] is transaction:
        return known[1], known[2]
    conn = session.connection()
    instrumented = _instrumented(conn)
    session.info[_CONNECTION] = (session.get_transaction(), conn, instrumented)
    return conn, instrumented


def _database_error(
    conn: Connection,
    pooled: PoolProxiedConnection,
    error: Any,  # an instance of the DBAPI's `Error` (its classes are typed per driver)
    statement: str,
    params: Mapping[str, Any],
    cursor: Any,
) -> StatementError:
    """The `sqlalchemy.exc` error `Connection.execute` raises for the DBAPI's `error` (the
    dialect maps psycopg2's classes: `OperationalError`, `IntegrityError`, ...).

    When the dialect reads `error` as a lost server, the connection is invalidated (the next use
    reconnects) and the engine's pool is replaced, closing its idle connections: they were to
    the same server and are likely gone too. SQLAlchemy itself marks the pool's older
    connections for recycling at their next checkout; either way none is handed out again.
    """
    dialect = conn.dialect
    lost = bool(dialect.is_disconnect(error, pooled, cursor))
    wrapped: StatementError = DBAPIError.instance(
        statement,
        params,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=conn.engine.hide_parameters,
        connection_invalidated=lost,
        dialect=dialect,
    )
    if lost:
        conn.engine.dispose()
        conn.invalidate(error)
    return wrapped


def _instrumented(conn: Connection) -> bool:
    """Whether SQLAlchemy must see each statement: SQL logged (`echo`, or the `sqlalchemy.engine`
    logger at INFO), execution listeners, or `handle_error` listeners (they may change an error).

    (An engine with an isolation level set has events of its own, for the connect step only.)"""
    if conn.engine.logger.isEnabledFor(logging.INFO):
        return True
    listeners = conn.dispatch
    return bool(
        listeners.before_execute
        or listeners.after_execute
        or listeners.before_cursor_execute
        or listeners.after_cursor_execute
        or conn.dialect.dispatch.handle_error
    )


def _prepared_on(conn: Connection) -> set[str]:
    """The statement names prepared on this DBAPI connection (a reconnect starts empty)."""
    fairy = conn.connection
    entry = fairy.info.get(_PREPARED)
    if entry is None or entry[0] is not fairy.dbapi_connection:
        entry = (fairy.dbapi_connection, set())
        fairy.info[_PREPARED] = entry
    names: set[str] = entry[1]
    return names
