"""Writing many rows at once, faster than the ORM's general tools where batches are hot."""

from collections.abc import Sequence

from django.db import connection, models


def update_rows(objects: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of each object to its row, in one round trip (executemany, pipelined by psycopg).

    Django's `bulk_update` builds a CASE expression per field over every row, which costs more Python time to
    compile than the update takes to run once batches have a hundred rows and a dozen fields."""
    if not objects:
        return
    meta = type(objects[0])._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608 (names from the model)
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_ignoring_conflicts(objects: Sequence[models.Model], *, conflict_on: str) -> None:
    """INSERT the objects, skipping those that conflict on the unique field `conflict_on`, in a single
    statement (`bulk_create(ignore_conflicts=True)` wraps it in a transaction: three round trips)."""
    meta = type(objects[0])._meta
    columns = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    for obj in objects:
        for field in columns:
            setattr(obj, field.attname, field.pre_save(obj, add=True))  # defaults, auto_now_add
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(objects))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) "  # noqa: S608
        f"VALUES {placeholders} ON CONFLICT ({quote(meta.get_field(conflict_on).column)}) DO NOTHING"
    )
    params = [field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in objects for field in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
