from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Sign-in and accounts"

    def ready(self) -> None:
        from . import signals  # stamps new sessions at sign-in

        signals.connect_permission_signals()
