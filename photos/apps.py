from django.apps import AppConfig


class PhotosConfig(AppConfig):
    name = "photos"
    verbose_name = "Photos"

    def ready(self) -> None:
        from people.erasure import eraser_register
        from people.export import export_files_register

        from . import privacy

        export_files_register(privacy.export_files)
        eraser_register(privacy.photos_erase)
