"""The top bar's links, drawn once per process for each set of permissions.

Every signed-in page shows them, and they depend only on what the user may do: checking six
permissions and reversing six URLs on every request cost more than the rest of the base
template. What differs per user and request (their name, the CSRF token) stays in the template.
"""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
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

_drawn: dict[str, SafeString] = {}


def draw_main_nav(user) -> SafeString:
    links = [(name, label) for permission, name, label in MAIN_LINKS if user.has_perm(permission)]
    return mark_safe(render_to_string("core/_main_nav.html", {"links": links}))  # noqa: S308 (our own template, escaped as it rendered)


@register.simple_tag(takes_context=True)
def main_nav(context) -> SafeString:
    """The main links the signed-in user's roles offer."""
    user = context["user"]
    key = permissions_key(user)
    drawn = _drawn.get(key)
    if drawn is None:
        # A process sees few distinct permission sets (one per combination of roles).
        drawn = _drawn[key] = draw_main_nav(user)
    return drawn
