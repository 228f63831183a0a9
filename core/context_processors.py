from django.conf import settings


def clinic(request):
    # htmx_debug: base.html loads django-htmx's error overlay for htmx requests in development.
    return {"clinic_name": settings.CLINIC_NAME, "htmx_debug": settings.DEBUG}
