from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from core.params import EARLIEST_DAY


class PatientQuerySet(models.QuerySet):
    def search(self, text: str) -> PatientQuerySet:
        """Name, phone or date of birth (YYYY-MM-DD), as a front-desk search box types them."""
        text = text.strip()
        if not text:
            return self.none()
        query = models.Q()
        for word in text.split():
            query &= (
                models.Q(first_name__icontains=word)
                | models.Q(last_name__icontains=word)
                | models.Q(phone__icontains=word)
                | models.Q(date_of_birth__iexact=word)
            )
        return self.filter(query)


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
    date_of_birth = models.DateField()
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["phone"]),
            models.Index(fields=["date_of_birth"]),
        ]
        permissions = [
            ("use_front_desk", "Can use the front-desk pages"),
            ("use_clinical", "Can use the clinical pages"),
            ("use_portal", "Can use the patient portal"),
            ("manage_clinic", "Can administer the clinic"),
            ("view_health", "Can see the system health page"),
            ("invite_patient", "Can invite a patient to the portal"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def get_absolute_url(self) -> str:
        return reverse("people:patient_detail", args=[self.pk])

    def clean(self) -> None:
        if self.date_of_birth and self.date_of_birth > timezone.localdate():
            raise ValidationError({"date_of_birth": "The date of birth cannot be in the future."})
        if self.date_of_birth and self.date_of_birth < EARLIEST_DAY:
            raise ValidationError(
                {"date_of_birth": f"Give a date of birth from {EARLIEST_DAY:%Y} on."}
            )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"
