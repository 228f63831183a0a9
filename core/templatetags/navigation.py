"""What the base template shows on every page, drawn once per process: the assets in the head,
and the signed-in top bar, once for each set of permissions.

Every signed-in page shows it, and all but two things in it depend only on what the user may
do: checking seven permissions and reversing nine URLs on every request cost more than the
rest of the base template. The two that differ per request, the user's name and the CSRF
token, are drawn as markers, and the drawing is kept as the pieces between them; each request
puts its own values, escaped, between the pieces.
"""

from __future__ import annotations

import functools

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from accounts.backends import permissions_key

register = template.Library()

# (permission, URL name, label), in the order the bar shows them.
MAIN_LINKS = (
    ("people.manage_clinic", "admin_home", "Manage"),
    ("people.use_front_desk", "desk_home", "Front desk"),
    ("people.use_clinical", "clinical_home", "Clinical"),
    ("people.view_patient", "people:patient_list", "Patients"),
    ("people.use_portal", "portal:home", "My treatment"),
    ("people.view_health", "health", "Health"),
)

# The per-request values, in the order the template shows them. Neither character survives in
# a drawing otherwise: escaping leaves them, and no label, URL or clinic name holds them.
HOLES = ("csrf_token", "who")
_MARKS = {name: f"\x00{name}\x00" for name in HOLES}

_drawn: dict[tuple[str, str], tuple[str, ...]] = {}


def draw_top_bar(user, clinic_name: str) -> tuple[str, ...]:
    """The top bar for this user's permissions, as the pieces around the HOLES."""
    links = [(name, label) for permission, name, label in MAIN_LINKS if user.has_perm(permission)]
    context = {
        "clinic_name": clinic_name,
        "links": links,
        "two_step_link": not user.has_perm("people.use_portal"),
        **_MARKS,
    }
    drawing = render_to_string("core/_top_bar.html", context)
    pieces = []
    for name in HOLES:
        before, mark, drawing = drawing.partition(_MARKS[name])
        if not mark or _MARKS[name] in drawing:
            raise ValueError(f"core/_top_bar.html must show {{{{ {name} }}}} exactly once")
        pieces.append(before)
    return (*pieces, drawing)


@register.simple_tag(takes_context=True)
def top_bar(context) -> SafeString:
    """The brand, the main links the signed-in user's roles offer, and the sign-out form."""
    user = context["user"]
    clinic_name = context.get("clinic_name", "")
    key = (permissions_key(user), clinic_name)
    pieces = _drawn.get(key)
    if pieces is None:
        # A process sees few distinct permission sets (one per combination of roles).
        pieces = _drawn[key] = draw_top_bar(user, clinic_name)
    values = {
        "csrf_token": context.get("csrf_token", ""),
        "who": user.get_full_name() or user.username,
    }
    filled = [pieces[0]]
    for name, piece in zip(HOLES, pieces[1:], strict=True):
        filled += [conditional_escape(values[name]), piece]
    return mark_safe("".join(filled))  # noqa: S308 (our own template, escaped as it rendered; the values escaped above)


@register.simple_tag
def head_assets() -> SafeString:
    """The icon, the stylesheet and the scripts every page loads (each a storage lookup and a
    URL join with `{% static %}`), and django-htmx's error overlay in development."""
    return _head_assets(settings.STATIC_URL, settings.DEBUG)


@functools.cache
def _head_assets(static_url: str, debug: bool) -> SafeString:
    return mark_safe(render_to_string("core/_head_assets.html", {"htmx_debug": debug}))  # noqa: S308 (our own template, escaped as it rendered)
