"""Writing the audit log. Services and file-serving views call audit_log(); nothing else writes."""

from __future__ import annotations

from django.db import models

from .models import AuditEvent

Action = AuditEvent.Action


def _role_of(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    names = sorted(group.name for group in user.groups.all())
    return ", ".join(names) or ("superuser" if user.is_superuser else "no role")


def _client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_log(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    patient=None,
    allowed: bool = True,
    request=None,
    detail: str = "",
) -> AuditEvent:
    """Records who did what to which patient's object, from where, and whether it was allowed.

    `patient` may be a Patient or its id; when omitted it is taken from `obj.patient_id` or,
    for a Patient, the object itself. `detail` must never hold names, emails or image bytes.
    """
    if patient is None and obj is not None:
        patient = (
            obj.pk if obj._meta.label == "people.Patient" else getattr(obj, "patient_id", None)
        )
    patient_id = getattr(patient, "pk", patient)
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=actor,
        actor_role=_role_of(actor),
        action=action,
        allowed=allowed,
        patient_id=patient_id,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip_address=_client_ip(request),
        detail=detail[:300],
    )
