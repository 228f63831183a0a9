from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .models import Patient
from .tokens import invite_token_generator

logger = logging.getLogger(__name__)


@shared_task(name="people.send_patient_invite", ignore_result=True)
def send_patient_invite(patient_id: int) -> bool:
    """Emails the invited patient a link to choose a password; nothing once one is chosen.
    The email joins the outbox (core.outbox), which retries the mail server itself."""
    patient = Patient.all_records.select_related("user", "merged_into__user").filter(pk=patient_id)
    patient = patient.first()
    if patient is not None and patient.is_merged:  # merged since: the login went with it
        patient = patient.merged_into
    user = patient.user if patient else None
    if user is None or user.has_usable_password():
        return False
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
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return True


@shared_task(
    name="people.build_data_export",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=10 * 60,  # many photos to copy
    time_limit=11 * 60,  # people.export.EXPORT_TIME_LIMIT
)
def build_data_export(export_id: int) -> str:
    """Writes a patient's data export (people.export) into storage."""
    from .export import data_export_build

    return data_export_build(export_id=export_id)


@shared_task(name="people.purge_data_exports", ignore_result=True)
def purge_data_exports() -> int:
    """Beat: data exports past their download time lose their archive."""
    from .export import data_exports_purge

    return data_exports_purge()


@shared_task(name="people.list_past_retention", ignore_result=True)
def list_past_retention() -> list[int]:
    """Beat, daily: logs the records a clinic admin may now erase (ids only: no names in
    logs). Nothing is erased automatically; `manage.py patients_past_retention` lists them."""
    from .erasure import patients_past_retention

    past = patients_past_retention()
    if past:
        logger.warning(
            "%d patient records are past their retention period and may be erased "
            "(/patients/<id>/erase/): %s",
            len(past),
            ", ".join(str(row.patient_id) for row in past),
        )
    return [row.patient_id for row in past]
