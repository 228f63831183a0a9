from django.apps import AppConfig


class PhotosConfig(AppConfig):
    name = "photos"
    verbose_name = "Photos"

    def ready(self) -> None:
        from people.erasure import eraser_register
        from people.export import export_files_register

        from . import checks, privacy  # noqa: F401  (checks registers itself)

        export_files_register(privacy.export_files)
        eraser_register(privacy.photos_erase)
        # A purpose withdrawn from a patient's standing photo consent (treatments, below us)
        # is withdrawn from their existing photos in the same transaction.
        from treatments.consents import photo_consent_withdrawn

        from .services import on_standing_consent_withdrawn

        photo_consent_withdrawn.connect(
            on_standing_consent_withdrawn, dispatch_uid="photos.standing_consent_withdrawn"
        )
