"""Seed the reasons for delay with NHS England's acute discharge situation report list."""

from django.db import migrations


def seed(apps, schema_editor):
    from referrals.delay_reasons import seed_delay_reasons

    seed_delay_reasons(apps)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_catalogue_referrals_discharge")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
