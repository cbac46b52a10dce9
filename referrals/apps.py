from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals and hospital discharge"
    default_auto_field = "django.db.models.BigAutoField"
