"""FeeRule moves to the sellers app (state only): the table ``payouts_feerule``, its rows, index,
constraints and immutability trigger stay as they are; sellers.0003 takes the model over."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('payouts', '0010_reconciliation_queued'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name='feerule', name='payouts_fee_scope_98e5f9_idx'),
                migrations.RemoveConstraint(model_name='feerule', name='feerule_target_matches_scope'),
                migrations.RemoveConstraint(model_name='feerule', name='feerule_bps_at_most_100pc'),
                migrations.DeleteModel(name='FeeRule'),
            ],
            database_operations=[],
        ),
    ]
