"""Fewer indexes written per webhook delivery: drop the (type, status) index and the account
index (no query of ours looks events up by either), and make the (status, next_attempt_at) index
partial, on the statuses its queries read (expired claims, failed and dead events): a new event
(received or ignored) now writes the primary key, the unique stripe_id and the pending index only.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_drop_intake_like_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="stripeevent",
            name="events_stri_status_3e20de_idx",
        ),
        migrations.RemoveIndex(
            model_name="stripeevent",
            name="events_stri_type_26f55e_idx",
        ),
        migrations.AlterField(
            model_name="stripeevent",
            name="account",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddIndex(
            model_name="stripeevent",
            index=models.Index(
                condition=models.Q(("status__in", ["processing", "failed", "dead"])),
                fields=["status", "next_attempt_at"],
                name="events_unsettled_idx",
            ),
        ),
    ]
