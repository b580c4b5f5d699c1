"""Hot-path statements that PostgreSQL plans once per connection instead of on every call.

A `Statement` is written once, with `:name` parameters, like `text()`. The first time a
database connection runs it, it is PREPAREd there under a name taken from its text; from then
on that connection runs it with EXECUTE, which skips the parse and the plan that a join or a
writing CTE costs on every plain call (the order load: 410 us of server CPU as plain text,
155 us prepared, measured on a 2-core machine). Parameters keep their SQL types: the server
infers them from where they are used, and a statement says `CAST(:x AS type)` where it cannot.

Prepared statements live in the server session, so they need a connection that stays the same
server session (a direct connection, or a pooler in session mode). An engine made with
`make_engine(..., prepare=False)` (the setting `BACKROOM_DB_PREPARE=false`) runs the same text
plainly, as behind PgBouncer in transaction mode.

A prepared statement runs straight on the DBAPI cursor of the connection SQLAlchemy holds (in
its transaction): SQLAlchemy's per-execution machinery (execution context, result metadata)
cost more client CPU than psycopg2 itself, on statements whose shape never changes. Errors go
through SQLAlchemy's own handler, so they arrive as `sqlalchemy.exc` errors and a lost server
invalidates the connection and the pool exactly as with `Connection.execute`. When anything
listens to the engine's events, or it echoes SQL, statements take SQLAlchemy's path so the
listeners and the log see them.
"""

from __future__ import annotations

import hashlib
import re
from collections import namedtuple
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, CursorResult, TextClause, text
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session

PREPARE_OPTION = "backroom_prepare"  # an engine execution option; default on
_PARAM = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # what `text()` takes for a bind parameter
_CONNECTION = "backroom.connection"  # session info: (its transaction, that one's connection)
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

    def run(self, session: Session | Connection, params: Mapping[str, Any] | None = None) -> Rows:
        """Execute on `session`'s connection (preparing it there first if needed); its rows."""
        conn = _connection(session) if isinstance(session, Session) else session
        params = params or {}
        if not conn.get_execution_options().get(PREPARE_OPTION, True):
            return Rows.of(conn.execute(self.plain, params))
        prepared = _prepared_on(conn)
        if _instrumented(conn):
            if self.name not in prepared:
                conn.exec_driver_sql(self._prepare, execution_options={"no_parameters": True})
                prepared.add(self.name)
            return Rows.of(conn.execute(self._execute, params))
        return self._run_on_cursor(conn, prepared, params)

    def _run_on_cursor(
        self, conn: Connection, prepared: set[str], params: Mapping[str, Any]
    ) -> Rows:
        if not conn.in_transaction():
            conn.begin()  # as `Connection.execute` would (autobegin)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
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
            conn._handle_dbapi_exception(error, statement, params, cursor, None)
        except Exception:  # not the database's (a soft time limit, say): passed on as it is
            raise
        except BaseException as error:  # an exit: SQLAlchemy drops the connection, so do we
            conn._handle_dbapi_exception(error, statement, params, cursor, None)
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


def _connection(session: Session) -> Connection:
    """`session.connection()`, remembered for the session's current transaction (the call walks
    the session's state machine each time; a unit of work runs a dozen statements)."""
    transaction = session.get_transaction()
    known = session.info.get(_CONNECTION)
    if transaction is not None and known is not None and known[0] is transaction:
        conn: Connection = known[1]
        return conn
    conn = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), conn)
    return conn


def _instrumented(conn: Connection) -> bool:
    """Whether SQLAlchemy must see each statement: execution listeners, or SQL echoed to the log.

    (An engine with an isolation level set has events of its own, for the connect step only.)"""
    if conn._echo:
        return True
    if not (conn._has_events or conn.engine._has_events):
        return False
    listeners = conn.dispatch
    return bool(
        listeners.before_execute
        or listeners.after_execute
        or listeners.before_cursor_execute
        or listeners.after_cursor_execute
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
