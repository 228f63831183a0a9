from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from core.params import EARLIEST_DAY

from .matching import fold, folded_name, phone_e164, typed_day

DERIVED_FIELDS = ("name_folded", "phone_e164", "email_folded")


class PatientQuerySet(models.QuerySet):
    def search(self, text: str) -> PatientQuerySet:
        """Name, phone or date of birth, as a front-desk search box types them.

        The whole text may be a phone number in any common format ("06 1234 5678",
        "+31 6 1234 5678") or a date of birth ("12-04-1988", "1988-04-12"); otherwise every
        word must match: part of the name without accents or case ("chloe" finds Chloé),
        digits of the phone number, or a date of birth.
        """
        text = text.strip()
        if not text:
            return self.none()
        # A whole date of birth or phone number in use: one indexed lookup.
        if (day := typed_day(text)) is not None:
            return self.filter(date_of_birth=day)
        if number := phone_e164(text, valid=True):
            return self.filter(phone_e164=number)
        if number := phone_e164(text):  # of a possible length only: maybe part of a number
            digits = "".join(char for char in text if char.isdigit())
            return self.filter(models.Q(phone_e164=number) | models.Q(phone_e164__contains=digits))
        query = models.Q()
        for word in text.split():
            if (day := typed_day(word)) is not None:
                # A date is a date of birth only: the one term the date's index can serve.
                query &= models.Q(date_of_birth=day)
                continue
            match = models.Q()
            for part in fold(word).split():
                match &= models.Q(name_folded__contains=part)
            digits = "".join(char for char in word if char.isascii() and char.isdigit())
            if len(digits) >= 3 and not word.strip("0123456789-./()+"):
                match |= models.Q(phone_e164__contains=digits)
            if not match:  # punctuation alone: it matches nobody
                return self.none()
            query &= match
        return self.filter(query)

    def likely_duplicates(
        self,
        *,
        first_name: str,
        last_name: str,
        date_of_birth: dt.date | None,
        phone: str = "",
        email: str = "",
    ) -> PatientQuerySet:
        """Records that may be the same person: the same name (without accents or case) and
        date of birth, the same phone number, or the same email address."""
        same = models.Q(pk__in=[])
        name = folded_name(first_name, last_name)
        if name and date_of_birth:
            same |= models.Q(name_folded=name, date_of_birth=date_of_birth)
        if number := phone_e164(phone):
            same |= models.Q(phone_e164=number)
        if email := email.strip():
            same |= models.Q(email_folded=email.casefold())
        return self.filter(same)


class LivePatientManager(models.Manager.from_queryset(PatientQuerySet)):
    """Records in use: a record merged into another is left out everywhere, so its id leads
    nowhere but to the record that holds its history now (see people.middleware)."""

    def get_queryset(self) -> PatientQuerySet:
        return super().get_queryset().filter(merged_into__isnull=True)


class Patient(models.Model):
    """A person treated by the clinic; a portal account, when invited, is linked to exactly one."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
        help_text="The patient's own portal login, if they have been invited.",
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    # Required of every record; emptied only when the record is erased (people.erasure).
    date_of_birth = models.DateField(null=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    sms_reminders = models.BooleanField(
        "Reminders by text message",
        default=False,
        help_text="The patient agreed to get session reminders as text messages on this phone.",
    )
    notes = models.TextField(blank=True)
    # Derived on save from the fields above: what search and the duplicate check compare.
    name_folded = models.CharField(max_length=201, editable=False, default="")
    phone_e164 = models.CharField(max_length=20, editable=False, blank=True, default="")
    email_folded = models.CharField(max_length=254, editable=False, blank=True, default="")
    # A record merged into another stays as a pointer to it, so old links and audit events
    # that name its id still lead to the person.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="merged_records",
        # Indexed only where set (below): an index holding every record in use under NULL led
        # SQLite to walk it for "merged_into IS NULL", a second per search of 100,000 records.
        db_index=False,
    )
    merged_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the record was erased after its retention period: the row stays, anonymised,
    # for the clinical rows and the audit events that point to it (people.erasure).
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LivePatientManager()
    # Every record, those merged into another too.
    all_records = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["name_folded", "date_of_birth"]),
            models.Index(fields=["phone_e164"]),
            models.Index(fields=["email_folded"]),
            models.Index(fields=["date_of_birth"]),
            models.Index(
                fields=["merged_into"],
                condition=models.Q(merged_into__isnull=False),
                name="people_patient_merged_into",
            ),
        ]
        permissions = [
            ("use_front_desk", "Can use the front-desk pages"),
            ("use_clinical", "Can use the clinical pages"),
            ("use_portal", "Can use the patient portal"),
            ("manage_clinic", "Can administer the clinic"),
            ("view_health", "Can see the system health page"),
            ("invite_patient", "Can invite a patient to the portal"),
            ("merge_patient", "Can merge a duplicate patient record into another"),
            ("export_patient_data", "Can produce a patient's data export"),
            ("erase_patient", "Can erase a patient's record after its retention period"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs) -> None:
        if self.erased_at is None:
            self.name_folded = folded_name(self.first_name, self.last_name)
            self.phone_e164 = phone_e164(self.phone)
            self.email_folded = self.email.strip().casefold()
        else:  # an erased record is found by its id only
            self.name_folded = self.phone_e164 = self.email_folded = ""
        if (fields := kwargs.get("update_fields")) is not None:
            kwargs["update_fields"] = {*fields, *DERIVED_FIELDS}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("people:patient_detail", args=[self.pk])

    def clean(self) -> None:
        errors = {}
        if self.phone.strip() and not phone_e164(self.phone):
            errors["phone"] = "Give a phone number such as 06 1234 5678 or +31 6 1234 5678."
        elif self.sms_reminders and not self.phone.strip():
            errors["sms_reminders"] = "Give a phone number to send the text reminders to."
        if self.date_of_birth and self.date_of_birth > timezone.localdate():
            errors["date_of_birth"] = "The date of birth cannot be in the future."
        elif self.date_of_birth and self.date_of_birth < EARLIEST_DAY:
            errors["date_of_birth"] = f"Give a date of birth from {EARLIEST_DAY:%Y} on."
        if errors:
            raise ValidationError(errors)

    def shared_with(self, other: Patient) -> list[str]:
        """What this record has in common with `other` (unsaved, as typed) that makes them
        look like one person."""
        shared = []
        if (
            self.name_folded == folded_name(other.first_name, other.last_name)
            and self.date_of_birth == other.date_of_birth
        ):
            shared.append("name and date of birth")
        if self.phone_e164 and self.phone_e164 == phone_e164(other.phone):
            shared.append("phone")
        if self.email_folded and self.email_folded == other.email.strip().casefold():
            shared.append("email")
        return shared

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class DataExportQuerySet(models.QuerySet):
    def for_patient(self, patient) -> DataExportQuerySet:
        return self.filter(patient=patient)

    def downloadable(self, *, now: dt.datetime | None = None) -> DataExportQuerySet:
        return self.filter(status=DataExport.Status.READY, expires_at__gt=now or timezone.now())


class DataExport(models.Model):
    """Everything the clinic holds about one patient, as a ZIP (data.json and their files),
    built by the worker (people.export) on the patient's or the clinic's request. Its file is
    deleted when it expires (PATIENT_EXPORT_HOURS after it is ready)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the worker"
        RUNNING = "running", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="data_exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it failed.")
    # Server-made, never shown: the archive is served through a view that checks and audits.
    storage_key = models.CharField(max_length=200, blank=True, editable=False)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = DataExportQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["patient", "-requested_at"])]

    def __str__(self) -> str:
        return f"data export {self.pk} of patient {self.patient_id} ({self.status})"

    @property
    def is_under_way(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    def is_downloadable(self, now: dt.datetime | None = None) -> bool:
        return (
            self.status == self.Status.READY
            and self.expires_at is not None
            and self.expires_at > (now or timezone.now())
        )
