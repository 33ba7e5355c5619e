"""Writing many rows at once, and reading rows joined by hand, faster than the ORM's general tools where
batches are hot."""

import functools
from collections.abc import Sequence

from django.db import connection, models


def update_rows(objects: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of each object to its row, in one statement.

    Django's `bulk_update` builds a CASE expression per field over every row, which costs more Python time to
    compile than the update takes to run once batches have a hundred rows and a dozen fields; psycopg's
    `executemany` runs a pipeline whose synchronisation costs more than the update of a row or two. On
    PostgreSQL many rows go as one `UPDATE ... FROM (VALUES ...)`."""
    if not objects:
        return
    meta = type(objects[0])._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        if len(rows) == 1 or connection.vendor != "postgresql":
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
            sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 (names from the model)
            if len(rows) == 1:
                cursor.execute(sql, rows[0])
            else:
                cursor.executemany(sql, rows)
            return
        # The first row carries each column's type: a column of NULLs alone would be read as text.
        types = [field.cast_db_type(connection) for field in columns] + [meta.pk.cast_db_type(connection)]
        first = "(" + ", ".join(f"%s::{db_type}" for db_type in types) + ")"
        others = ", ".join(["(" + ", ".join(["%s"] * len(types)) + ")"] * (len(rows) - 1))
        names = [f"c{i}" for i in range(len(columns))] + ["pk"]
        assignments = ", ".join(
            f"{quote(field.column)} = v.{name}" for field, name in zip(columns, names, strict=False)
        )
        sql = (
            f"UPDATE {table} SET {assignments} FROM (VALUES {first}, {others}) AS v({', '.join(names)}) "  # noqa: S608
            f"WHERE {table}.{pk} = v.pk"
        )
        cursor.execute(sql, [value for row in rows for value in row])


def insert_ignoring_conflicts(objects: Sequence[models.Model], *, conflict_on: str) -> None:
    """INSERT the objects, skipping those that conflict on the unique field `conflict_on`, in a single
    statement (`bulk_create(ignore_conflicts=True)` wraps it in a transaction: three round trips)."""
    meta = type(objects[0])._meta
    sql, params = _insert_sql(objects)
    with connection.cursor() as cursor:
        cursor.execute(
            f"{sql} ON CONFLICT ({connection.ops.quote_name(meta.get_field(conflict_on).column)}) DO NOTHING", params
        )


def insert_unless_any_conflicts(objects: Sequence[models.Model]) -> bool:
    """INSERT all the objects and give them their primary keys, in one statement, when none of them conflicts
    with a row stored before on a unique constraint; when some do, insert none and say so (False).

    Where conflicts are rare this replaces a read of what is stored plus a savepoint around the INSERT (four
    round trips) with one; the rows that did go in are deleted again in the rare other case, as the caller
    plans them differently."""
    if not objects:
        return True
    meta = type(objects[0])._meta
    sql, params = _insert_sql(objects)
    pk = connection.ops.quote_name(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} ON CONFLICT DO NOTHING RETURNING {pk}", params)
        keys = [row[0] for row in cursor.fetchall()]
        if len(keys) < len(objects):
            if keys:
                table, placeholders = connection.ops.quote_name(meta.db_table), ", ".join(["%s"] * len(keys))
                cursor.execute(f"DELETE FROM {table} WHERE {pk} IN ({placeholders})", keys)  # noqa: S608
            return False
    # Without a conflict, RETURNING gives the keys in the order of the VALUES (as bulk_create relies on).
    for obj, key in zip(objects, keys, strict=True):
        obj.pk = key
        obj._state.adding, obj._state.db = False, connection.alias
    return True


def _insert_sql(objects: Sequence[models.Model]) -> tuple[str, list]:
    meta = type(objects[0])._meta
    columns = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    for obj in objects:
        for field in columns:
            setattr(obj, field.attname, field.pre_save(obj, add=True))  # defaults, auto_now_add
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(objects))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) "  # noqa: S608
        f"VALUES {placeholders}"
    )
    params = [field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in objects for field in columns]
    return sql, params


class Selected:
    """A model's columns in a hand-written SELECT, under a table alias, and the instance made of its part of a
    row, each value converted as the ORM converts what it reads. For a hot query the ORM would compile again on
    every call (a join of several models, compiled, costs more than it takes the database to run it)."""

    def __init__(self, model: type[models.Model], alias: str) -> None:
        self.model, self.alias = model, alias
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        self.pk_index = self.fields.index(model._meta.pk)
        self.table = connection.ops.quote_name(model._meta.db_table)

    def column(self, field_name: str) -> str:
        return self._qualified(self.model._meta.get_field(field_name))

    def columns(self) -> str:
        return ", ".join(self._qualified(field) for field in self.fields)

    def _qualified(self, field: models.Field) -> str:
        return f"{self.alias}.{connection.ops.quote_name(field.column)}"

    def take(self, row: Sequence, start: int) -> tuple[models.Model | None, int]:
        """The instance whose columns start at `start` in the row (None when they are all NULL: an outer join
        found nothing), and where the next model's columns start."""
        end = start + len(self.fields)
        values = list(row[start:end])
        if values[self.pk_index] is None:
            return None, end
        for index, column, converters in self._converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values), end

    @functools.cached_property
    def _converters(self) -> list:
        found = []
        for index, field in enumerate(self.fields):
            column = field.get_col(self.alias)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                found.append((index, column, converters))
        return found
