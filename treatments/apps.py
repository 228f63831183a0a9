from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "treatments"
    verbose_name = "Treatments"

    def ready(self) -> None:
        from people.erasure import eraser_register

        from .consents import consents_erase

        eraser_register(consents_erase)
