"""The scripts every page loads: htmx from our own origin, and django-htmx's error overlay in
development only."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from django.urls import reverse

SCRIPT = re.compile(r"<script ([^>]*)></script>")


def scripts(client, user) -> list[str]:
    client.force_login(user)
    response = client.get(reverse("home"), follow=True)
    assert response.status_code == 200
    return SCRIPT.findall(response.content.decode())


def test_htmx_loads_from_our_origin_which_the_policy_allows(client, clinician_user, settings):
    settings.DEBUG = False
    (tag,) = scripts(client, clinician_user)
    source = re.search(r'src="([^"]+)"', tag).group(1)
    assert source.startswith(settings.STATIC_URL) and "htmx-2.min" in source
    assert finders.find("django_htmx/htmx-2.min.js")
    assert "'self'" in settings.SECURE_CSP["script-src"]


def test_the_htmx_error_overlay_is_for_development_only(client, clinician_user, settings):
    settings.DEBUG = True
    tags = scripts(client, clinician_user)
    assert any("django-htmx.js" in tag and 'data-debug="True"' in tag for tag in tags)
    settings.DEBUG = False
    assert not any("django-htmx.js" in tag for tag in scripts(client, clinician_user))
