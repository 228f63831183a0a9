"""Sign-in, sign-out and failed sign-in go to the audit log, like every access to patient data."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

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
