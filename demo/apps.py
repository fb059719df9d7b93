from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data of ``make demo``: the ``demo_seed`` command, above every other app."""

    name = "demo"
    verbose_name = "Demo data"
