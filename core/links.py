"""Links to many objects of one kind on one page, without a reverse() per row."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

# An id no table reaches, so it appears once in the reversed path.
_MARKER = 987654321987


def id_url(name: str, *rest: str) -> Callable[[int], str]:
    """The URL of the named pattern for any id, from one reverse() of a marker id: a page
    listing hundreds of rows reverses each kind of link once per request, not once per row.
    For patterns whose first argument is an int id; `rest` are the same for every row
    (id_url("photos:image", "grid"))."""
    head, tail = reverse(name, args=[_MARKER, *rest]).split(str(_MARKER))
    return lambda pk: f"{head}{pk}{tail}"
