"""Core statements run straight on the driver's cursor, for the one door's few statements per fire.

``connection.execute`` builds an execution context, a result object and the result's metadata
(on PostgreSQL the driver makes a column description for it) for every statement: for the small
statements a fire sends, that costs as much Python time as the database takes to run them.
A :class:`Direct` statement is compiled once per dialect (and, for an INSERT or UPDATE, per set
of columns given, whatever their order); each run converts the parameters with the columns' own bind processors (JSON, times) and
hands the SQL to the driver's cursor of the connection's transaction. The connection's cursor
events (``before_cursor_execute``, ``after_cursor_execute``) still see every statement, and a
driver's error is raised as SQLAlchemy raises it (``sqlalchemy.exc.DBAPIError`` and its kinds, the
connection invalidated on a disconnect). With SQL echo on, the statement goes through
``connection.execute`` so that it is logged as any other.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import UpdateBase


class _Form(NamedTuple):
    sql: str
    names: tuple[str, ...]  # the parameters, in the order a positional driver takes them
    keys: tuple[str, ...]  # the names the driver's named parameters go by (escaped where needed)
    processors: tuple[Any, ...]  # each parameter's bind processor, or None
    positional: bool


class Direct:
    """``statement`` (a Core INSERT, UPDATE or SELECT with named ``bindparam`` values) run on the driver's cursor.

    An INSERT or UPDATE takes its columns from the parameters given (as ``connection.execute`` does), and an
    INSERT must give every column: a default the ORM would compute in Python is not computed here (compiling
    such a statement raises ``TypeError``).
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._columns = isinstance(statement, UpdateBase)  # an INSERT or UPDATE: its columns from the parameters
        self._forms: dict[tuple, _Form] = {}
        #: Per dialect: the result's column names and each column's result processor (as SQLAlchemy found
        #: them for the statement's first result: the column types the statement declares, the driver's types).
        self._results: dict[str, tuple[tuple[str, ...], list | None]] = {}

    def _form(self, connection: Connection, params: dict[str, Any]) -> _Form:
        dialect = connection.dialect
        key = (dialect.name, frozenset(params)) if self._columns else (dialect.name,)
        form = self._forms.get(key)
        if form is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=list(params) if self._columns else None)
            if compiled.insert_prefetch or compiled.update_prefetch:
                missing = [c.name for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
                raise TypeError(f"a direct statement takes every column; not given: {', '.join(missing)}")
            names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.bind_names.values())
            escaped = compiled.escaped_bind_names or {}
            processors = compiled._bind_processors
            form = _Form(compiled.string, names, tuple(escaped.get(n, n) for n in names),
                         tuple(processors.get(n) for n in names), bool(compiled.positional))
            self._forms[key] = form
        return form

    def prepare(self, connection: Connection, names: Iterable[str] = ()) -> None:
        """Compile the statement for ``connection``'s database (an INSERT or UPDATE: for the columns ``names``, in
        any order) before it first runs, as :meth:`run` would compile it then."""
        self._form(connection, dict.fromkeys(names))

    def run(self, connection: Connection, params: dict[str, Any]):
        """Run with ``params`` in ``connection``'s transaction; the driver's cursor (its rows not yet fetched)."""
        if connection._echo:  # logged as every statement is
            return _Logged(connection.execute(self.statement, params))
        form = self._form(connection, params)
        values = [params[name] if process is None else process(params[name])
                  for name, process in zip(form.names, form.processors)]
        parameters = values if form.positional else dict(zip(form.keys, values))
        cursor = connection.connection.cursor()
        sql = form.sql
        try:
            heard = connection._has_events or connection.engine._has_events
            if heard:
                for listener in connection.dispatch.before_cursor_execute:
                    sql, parameters = listener(connection, cursor, sql, parameters, None, False)
            cursor.execute(sql, parameters)
            if heard:
                connection.dispatch.after_cursor_execute(connection, cursor, sql, parameters, None, False)
        except BaseException as exc:
            connection._handle_dbapi_exception(exc, sql, parameters, cursor, None)  # raises it, wrapped
        return cursor

    def mapping(self, connection: Connection, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first row a SELECT returns, by column name, its values converted as SQLAlchemy converts them
        (JSON, times, decimals, booleans: the processors of the first result, run through ``connection.execute``);
        ``None`` if none."""
        found = self.mappings(connection, params, first=True)
        return found[0] if found else None

    def mappings(self, connection: Connection, params: dict[str, Any], *, first: bool = False) -> list[dict[str, Any]]:
        """Every row a SELECT returns (with ``first``, at most the first), as :meth:`mapping` gives one."""
        known = self._results.get(connection.dialect.name)
        if known is None or connection._echo:
            result = connection.execute(self.statement, params)
            if known is None:
                self._results[connection.dialect.name] = (tuple(result.keys()), result._metadata._effective_processors)
            found = [result.first()] if first else list(result)
            return [dict(row._mapping) for row in found if row is not None]
        names, processors = known
        cursor = self.run(connection, params)
        found = [cursor.fetchone()] if first else cursor.fetchall()
        cursor.close()
        if processors is None:
            return [dict(zip(names, row)) for row in found if row is not None]
        return [dict(zip(names, [value if process is None else process(value)
                                 for value, process in zip(row, processors)])) for row in found if row is not None]

    def first(self, connection: Connection, params: dict[str, Any]) -> tuple | None:
        """The first row the statement returns (a RETURNING, a SELECT), as a tuple; ``None`` if none."""
        cursor = self.run(connection, params)
        row = cursor.fetchone()
        cursor.close()
        return None if row is None else tuple(row)

    def count(self, connection: Connection, params: dict[str, Any]) -> int:
        """The rows the statement changed."""
        cursor = self.run(connection, params)
        changed = cursor.rowcount
        cursor.close()
        return changed


class _Logged:
    """A statement's result, as :meth:`Direct.run` hands out a cursor (echo on)."""

    def __init__(self, result) -> None:
        self._result = result
        self.rowcount = result.rowcount

    def fetchone(self):
        return self._result.fetchone() if self._result.returns_rows else None

    def close(self) -> None:
        self._result.close()
