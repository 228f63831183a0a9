from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People and roles"

    def ready(self) -> None:
        from .roles import sync_role_groups

        # After every migrate, so permissions added by any app reach their roles.
        post_migrate.connect(sync_role_groups, dispatch_uid="people.sync_role_groups")
