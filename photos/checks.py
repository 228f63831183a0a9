"""System checks of the photo worker's libraries (`manage.py check`)."""

from django.core import checks

from . import imaging


@checks.register("photos")
def libturbojpeg_found(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if imaging.libturbojpeg() is not None:
        return []
    return [
        checks.Warning(
            "libturbojpeg is not installed: the worker decodes camera JPEGs with Pillow, in "
            "full or at half size, and makes derivatives about twice as slowly.",
            hint="Install Debian's libturbojpeg0 (apt-get install libturbojpeg0).",
            id="photos.W001",
        )
    ]
