"""Seed the reasons for delay with NHS England's acute discharge situation report list."""

from django.db import migrations


def seed(apps, schema_editor):
    from referrals.delay_reasons import SITREP_REASONS, SOCIAL_CARE_DELAYS

    DelayReason = apps.get_model("referrals", "DelayReason")
    for position, (code, label) in enumerate(SITREP_REASONS, start=1):
        DelayReason.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "position": position,
                "social_care_delay": code in SOCIAL_CARE_DELAYS,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_catalogue_referrals_discharge")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
