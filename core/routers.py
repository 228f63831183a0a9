"""The API's routers: a record's URL takes a whole-number id, so a malformed one such as
/api/sessions/null,null/ is a 404 at the URL resolver rather than a server error in a view."""

from __future__ import annotations

from rest_framework import routers


class _IdLookup:
    def __init__(self, **kwargs):
        super().__init__(use_regex_path=False, **kwargs)
        self._default_value_pattern = "int"  # Django's path converter: ASCII digits


class DefaultRouter(_IdLookup, routers.DefaultRouter):
    pass


class SimpleRouter(_IdLookup, routers.SimpleRouter):
    pass
