"""System checks of the photo worker's libraries (`manage.py check --deploy`: loading
libturbojpeg brings NumPy, which a web process starting up has no use for)."""

from django.core import checks

from . import imaging


@checks.register("photos", deploy=True)
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
