"""The signed-in top bar: the main links the user's roles offer."""

from __future__ import annotations

from django import template

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


@register.inclusion_tag("core/_top_bar.html", takes_context=True)
def top_bar(context) -> dict:
    user = context["user"]
    return {
        "clinic_name": context.get("clinic_name", ""),
        "csrf_token": context.get("csrf_token", ""),
        "links": [
            (name, label) for permission, name, label in MAIN_LINKS if user.has_perm(permission)
        ],
        "two_step_link": not user.has_perm("people.use_portal"),
        "who": user.get_full_name() or user.username,
    }
