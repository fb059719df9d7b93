"""FeeRule comes from the payouts app (state only: the table keeps its name ``payouts_feerule``
and its rows). Fee rules price the sales of sellers and categories, and the fee quote that
checkout, the listing preview and the staff simulator share lives next to them (sellers/fees.py).
The content type is renamed so staff permissions on fee rules carry over."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def rename_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="sellers", model="feerule").exists():
        ContentType.objects.filter(app_label="payouts", model="feerule").update(app_label="sellers")


def restore_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="payouts", model="feerule").exists():
        ContentType.objects.filter(app_label="sellers", model="feerule").update(app_label="payouts")


class Migration(migrations.Migration):

    dependencies = [
        ('sellers', '0002_seller_platform_status'),
        ('payouts', '0011_feerule_moves_to_sellers'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='FeeRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('scope', models.CharField(choices=[('platform', 'Platform default'), ('category', 'Category'), ('seller', 'Seller')], max_length=16)),
                        ('starts_on', models.DateField(help_text='The rule applies from this day (UTC) on')),
                        ('bps', models.PositiveIntegerField(help_text='Basis points of the amount (100 = 1 %)')),
                        ('currencies', models.JSONField(default=list)),
                        ('fixed_fees', models.JSONField(blank=True, default=dict)),
                        ('minimums', models.JSONField(blank=True, default=dict)),
                        ('maximums', models.JSONField(blank=True, default=dict)),
                        ('is_active', models.BooleanField(default=True, help_text='False: this version retires the rule')),
                        ('note', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('category', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='fee_rules', to='sellers.category')),
                        ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('seller', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='fee_rules', to='sellers.seller')),
                        ('supersedes', models.OneToOneField(blank=True, help_text='The previous version of this rule', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='superseded_by', to='sellers.feerule')),
                    ],
                    options={
                        'db_table': 'payouts_feerule',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['scope', 'starts_on'], name='payouts_fee_scope_98e5f9_idx')],
                        'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('category__isnull', True), ('scope', 'platform'), ('seller__isnull', True)), models.Q(('category__isnull', False), ('scope', 'category'), ('seller__isnull', True)), models.Q(('category__isnull', True), ('scope', 'seller'), ('seller__isnull', False)), _connector='OR'), name='feerule_target_matches_scope'), models.CheckConstraint(condition=models.Q(('bps__lte', 10000)), name='feerule_bps_at_most_100pc')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, restore_content_type),
    ]
