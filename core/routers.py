"""The API's routers: a record's URL takes a whole-number id, so a malformed one such as
/api/sessions/null,null/ is a 404 at the URL resolver rather than a server error in a view
(core.api.not_found words that 404 in JSON)."""

from __future__ import annotations

from rest_framework import routers


class _IdLookup:
    def __init__(self, **kwargs):
        super().__init__(use_regex_path=False, **kwargs)
        self._default_value_pattern = "int"  # Django's path converter: ASCII digits


class DefaultRouter(_IdLookup, routers.DefaultRouter):
    include_format_suffixes = False  # JSON is the API's one format; no /api/plans/1.json twin


class SimpleRouter(_IdLookup, routers.SimpleRouter):
    pass
