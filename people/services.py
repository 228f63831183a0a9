"""Writes to people's records. Each validates fully and saves inside one transaction."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from audit.services import Action, audit_log

from .models import Patient
from .roles import Role, assign_role
from .tokens import invite_token_generator

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


@transaction.atomic
def patient_update(*, patient: Patient, by=None, **changes) -> Patient:
    unknown = set(changes) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"patient_update() got unexpected fields: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(
            patient, field, value.strip() if isinstance(value, str) and field != "notes" else value
        )
    patient.full_clean()
    patient.save()
    audit_log(actor=by, action=Action.CHANGE, obj=patient, detail=", ".join(sorted(changes)))
    return patient


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
    if user is None:
        email = patient.email.strip().lower()
        if User.objects.filter(username__iexact=email).exists():
            raise ValidationError("Another account already uses this email address.")
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
    link = settings.SITE_URL.rstrip("/") + reverse(
        "invite_accept",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invite_token_generator.make_token(user),
        },
    )
    context = {"patient": patient, "link": link, "clinic_name": settings.CLINIC_NAME}
    subject = render_to_string("people/email/invite_subject.txt", context).strip()
    body = render_to_string("people/email/invite_body.txt", context)
    recipient = user.email
    audit_log(actor=by, action=Action.INVITE, obj=patient, detail="portal invitation sent")
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    )
