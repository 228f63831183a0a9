from django.conf import settings


def clinic(request):
    # htmx_debug: django-htmx's error overlay, in development only.
    return {"clinic_name": settings.CLINIC_NAME, "htmx_debug": settings.DEBUG}
