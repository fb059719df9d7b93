"""On PostgreSQL, the database itself refuses UPDATE and DELETE of audit entries (defence in
depth behind the model layer, as for the ledger)."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' rows are immutable ('
        || TG_OP || ' refused); the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    schema_editor.execute(
        "CREATE TRIGGER audit_auditentry_immutable BEFORE UPDATE OR DELETE ON audit_auditentry "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS audit_auditentry_immutable ON audit_auditentry")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
