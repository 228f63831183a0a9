from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Sign-in and accounts"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (stamps new sessions at sign-in)
