import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
application = get_wsgi_application()

# A worker serves thousands of requests, and what it loads at start-up (Django, the apps, every
# view through the URLconf) is never garbage. Frozen, it is left out of the collector's full
# passes, whose walks over it paused requests for tens of milliseconds.
get_resolver().url_patterns  # noqa: B018 (imports every view now, before the freeze)
gc.freeze()
