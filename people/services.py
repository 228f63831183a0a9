"""Writes to people's records. Each validates fully and saves inside one transaction."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from audit.services import Action, audit_log

from .models import Patient

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
