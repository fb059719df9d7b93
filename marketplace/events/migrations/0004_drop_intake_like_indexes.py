"""Drop the ``_like`` pattern indexes PostgreSQL got for the intake table's ``stripe_id`` and
``account`` (Django adds one per indexed CharField for ``LIKE 'x%'`` lookups). No query of ours
does a prefix search on either (lookups are by equality: the unique index and the plain index
serve them), and every index is one more write per webhook delivery's INSERT."""

from django.db import migrations


def drop_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("events", "StripeEvent")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s",
            [table, "%\\_like"],
        )
        names = [row[0] for row in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_fewer_intake_indexes"),
    ]

    operations = [migrations.RunPython(drop_like_indexes, migrations.RunPython.noop)]
