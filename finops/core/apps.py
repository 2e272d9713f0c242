from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "finops.core"
    label = "core"

    def ready(self) -> None:
        from finops.core.money import register_sqlite_functions

        connection_created.connect(register_sqlite_functions)
