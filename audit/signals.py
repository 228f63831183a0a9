"""Sign-in, sign-out and failed sign-in go to the audit log, like every access to patient data;
so do admin changes to accounts and roles."""

from __future__ import annotations

import json

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .context import current_request
from .services import Action, audit_log


def _own_patient_id(user) -> int | None:
    """A patient's account: their record's id, so the log shows their sign-ins under it."""
    if user is None or not user.pk:
        return None
    # The reverse side of Patient.user (people sits above audit, so it is not imported here).
    patient = getattr(user, "patient", None)
    return patient.pk if patient is not None else None


@receiver(user_logged_in, dispatch_uid="audit.user_logged_in")
def _signed_in(sender, request, user, **kwargs) -> None:
    audit_log(
        actor=user, action=Action.LOGIN, obj=user, patient=_own_patient_id(user), request=request
    )


@receiver(user_logged_out, dispatch_uid="audit.user_logged_out")
def _signed_out(sender, request, user, **kwargs) -> None:
    audit_log(
        actor=user, action=Action.LOGOUT, obj=user, patient=_own_patient_id(user), request=request
    )


@receiver(user_login_failed, dispatch_uid="audit.user_login_failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    """Refused sign-ins: the account when it exists, never the typed username or password."""
    User = get_user_model()
    username = credentials.get(User.USERNAME_FIELD) or credentials.get("username")
    account = User.objects.filter(**{User.USERNAME_FIELD: username}).first() if username else None
    audit_log(
        actor=None,
        action=Action.LOGIN,
        obj=account,
        allowed=False,
        request=request,
        detail="failed sign-in" if account else "failed sign-in for an unknown account",
    )


# --- changes made in Django's admin to accounts and roles ---------------------------------
# Clinical rules have their own audited admin (treatments.admin.AuditedRuleAdmin), with values
# before and after. Accounts and roles are changed in Django's own UserAdmin and GroupAdmin,
# which record each change in LogEntry, an editable table outside the chain; each such entry is
# copied into the chain here, in the admin's transaction. Deletions are recorded from the
# models themselves (the admin writes one LogEntry for many deletions with bulk_create, which
# sends no signal).

ADMIN_AUDITED = ("auth.user", "auth.group")


def _changed_fields(entry) -> list[str]:
    try:
        messages = json.loads(entry.change_message or "[]")
    except ValueError:
        return []
    return sorted(
        {
            str(field).lower()
            for message in messages
            if isinstance(message, dict)
            for field in message.get("changed", {}).get("fields", [])
        }
    )


def _account_state(user) -> str:
    """What an account may do after the change: roles and flags, never names or emails."""
    roles = ", ".join(sorted(group.name for group in user.groups.all())) or "none"
    return (
        f"roles {roles}; superuser {'yes' if user.is_superuser else 'no'}; "
        f"staff {'yes' if user.is_staff else 'no'}; active {'yes' if user.is_active else 'no'}"
    )


@receiver(post_save, sender=LogEntry, dispatch_uid="audit.admin_log_entry")
def _admin_changed(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    if not created or instance.is_deletion():
        return
    content_type = instance.content_type
    label = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    if label not in ADMIN_AUDITED:
        return
    obj = content_type.get_object_for_this_type(pk=instance.object_id)
    fields = _changed_fields(instance)
    what = "added" if instance.is_addition() else "changed " + (", ".join(fields) or "nothing")
    state = _account_state(obj) if label == "auth.user" else ""
    if label == "auth.group":
        state = f"{obj.permissions.count()} permissions"
    audit_log(
        actor=instance.user,
        action=Action.CREATE if instance.is_addition() else Action.CHANGE,
        obj=obj,
        patient=_own_patient_id(obj) if label == "auth.user" else None,
        detail=f"admin: {what}; {state}",
    )


def _deleted(sender, instance, **kwargs) -> None:
    audit_log(
        actor=getattr(current_request(), "user", None),
        action=Action.DELETE,
        object_type=instance._meta.label,
        object_id=str(instance.pk),
        detail="deleted",
    )


post_delete.connect(_deleted, sender=get_user_model(), dispatch_uid="audit.user_deleted")
post_delete.connect(_deleted, sender=Group, dispatch_uid="audit.group_deleted")
