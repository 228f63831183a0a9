"""Links to many objects of one kind on one page, without a reverse() per row; and signed links
that are their own key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core import signing
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


# --- signed links ------------------------------------------------------------------------
# A link emailed or texted to a patient is its own key: its data, signed with a salt that
# names what the link is for (a waiting-list offer, a reminder's answer), and the time it was
# signed (signing.dumps uses a TimestampSigner). One mechanism for every such link.


@dataclass(frozen=True)
class Signed:
    """What a signed link carries, and whether it is older than it may be."""

    data: Any
    expired: bool = False


def signed_token(data: Any, *, salt: str) -> str:
    return signing.dumps(data, salt=salt)


def signed_data(token: str, *, salt: str, max_age: dt.timedelta) -> Signed | None:
    """The data of a link signed here with `salt`, marked expired when it is older than
    `max_age`; None for a link not made here (tampered, cut short, or signed for another
    purpose)."""
    try:
        return Signed(signing.loads(token, salt=salt, max_age=max_age))
    except signing.SignatureExpired:
        return Signed(signing.loads(token, salt=salt), expired=True)
    except (signing.BadSignature, ValueError, UnicodeError):
        return None
