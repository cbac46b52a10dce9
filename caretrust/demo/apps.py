from django.apps import AppConfig


class DemoConfig(AppConfig):
    """``manage.py seed_demo``: the demo area, from every app that defines ``seed_demo()`` on
    its AppConfig. Project-level, so that no app imports another's demo data."""

    name = "caretrust.demo"
    label = "demo"
    verbose_name = "Demo data"
