"""On PostgreSQL, the database itself refuses UPDATE and DELETE of ledger rows (defence in depth
behind the model layer's ImmutableModel)."""

from django.db import migrations

TABLES = ["payouts_ledgerentry", "payouts_ledgertransaction", "payouts_feerule"]

FUNCTION = """
CREATE OR REPLACE FUNCTION payouts_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' rows are immutable ('
        || TG_OP || ' refused); record a correction instead';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION payouts_refuse_change()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS payouts_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [("payouts", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
