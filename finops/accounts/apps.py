from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "finops.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        from finops.accounts import checks  # noqa: F401 - registers the system checks
        from finops.accounts.receivers import last_login_record

        # A login records its time as best-effort bookkeeping (finops.core.writes), never failing the login.
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        user_logged_in.connect(last_login_record, dispatch_uid="update_last_login")
