"""Writes to people's records. Each validates fully and saves inside one transaction."""

from __future__ import annotations

from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import Action, audit_log, audited_update
from core.tasks import task_send_on_commit

from .models import Patient
from .roles import Role, assign_role
from .tasks import send_patient_invite

PATIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone", "notes")


@transaction.atomic
def patient_create(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    email: str = "",
    phone: str = "",
    notes: str = "",
    by=None,
) -> Patient:
    patient = Patient(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        email=email.strip(),
        phone=phone.strip(),
        notes=notes,
    )
    patient.full_clean()
    patient.save()
    audit_log(actor=by, action=Action.CREATE, obj=patient)
    return patient


def patient_update(*, patient: Patient, by=None, **changes) -> Patient:
    """Changes the named fields (PATIENT_FIELDS), trimming text but the notes."""
    changes = {
        name: value.strip() if isinstance(value, str) and name != "notes" else value
        for name, value in changes.items()
    }
    return audited_update(obj=patient, fields=PATIENT_FIELDS, changes=changes, by=by)


@transaction.atomic
def patient_invite(*, patient: Patient, by) -> None:
    """Gives the patient a portal account and emails a link to choose its password.

    There is no self-registration: the clinic invites. A patient has at most one account.
    An invitation not yet taken up (no password chosen) may be sent again; the new link
    works and the old one keeps working until it expires or a password is set.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if not patient.email:
        raise ValidationError("Add the patient's email address before inviting them.")
    user = patient.user
    if user is not None and user.has_usable_password():
        raise ValidationError("This patient already has a portal account.")
    User = get_user_model()
    email = patient.email.strip().lower()
    taken = User.objects.filter(username__iexact=email)
    if user is not None:
        taken = taken.exclude(pk=user.pk)
    if taken.exists():
        raise ValidationError("Another account already uses this email address.")
    if user is not None and user.email != email:
        # Not taken up yet, and the record's address has changed since: the link goes there.
        user.username = user.email = email
        user.full_clean()
        user.save(update_fields=["username", "email"])
    if user is None:
        user = User(
            username=email,
            email=email,
            first_name=patient.first_name,
            last_name=patient.last_name,
        )
        user.set_unusable_password()
        user.full_clean()
        user.save()
        assign_role(user, Role.PATIENT)
        patient.user = user
        patient.save(update_fields=["user", "updated_at"])
    audit_log(actor=by, action=Action.INVITE, obj=patient, detail="portal invitation sent")
    task_send_on_commit(send_patient_invite, patient.pk)
