"""The treatment catalogue, courses (plans) and their sessions.

The catalogue is data a clinic admin edits; the clinic's starting values come from a data
migration (see ../shared/DOMAIN.md). Nothing clinical is hard-coded in views.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class Modality(models.Model):
    class Kind(models.TextChoices):
        MICRODERMABRASION = "microdermabrasion", "Microdermabrasion"
        MICRONEEDLING = "microneedling", "Microneedling"
        LASER_PEEL = "laser_peel", "Laser peel"
        LASER_RESURFACING = "laser_resurfacing", "Laser resurfacing"

    kind = models.CharField(max_length=30, choices=Kind.choices, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    default_session_count = models.PositiveSmallIntegerField(default=6)
    default_interval_days = models.PositiveSmallIntegerField(default=14)
    min_interval_days = models.PositiveSmallIntegerField(
        default=7, help_text="No session of the same area sooner than this after the previous one."
    )
    buffer_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="Cleaning time after a session, before the room is free again."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "modalities"

    def __str__(self) -> str:
        return self.name


class DepthLevel(models.Model):
    """A depth a modality works at: microdermabrasion level I-III, laser microns, needle mm."""

    modality = models.ForeignKey(Modality, on_delete=models.CASCADE, related_name="levels")
    name = models.CharField(max_length=60)
    rank = models.PositiveSmallIntegerField(help_text="1 is the most superficial.")
    layer_reached = models.CharField(max_length=200, blank=True)
    depth_micrometres = models.PositiveIntegerField(null=True, blank=True)
    needle_depth_mm = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    expected_reaction = models.TextField(blank=True)
    downtime_days = models.PositiveSmallIntegerField(default=0)
    session_minutes = models.PositiveSmallIntegerField(default=45)

    class Meta:
        ordering = ["modality", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["modality", "rank"], name="unique_level_rank"),
            models.UniqueConstraint(fields=["modality", "name"], name="unique_level_name"),
        ]

    def __str__(self) -> str:
        return f"{self.modality.name} {self.name}"


class BodyArea(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(unique=True)
    extra_sessions_note = models.CharField(
        max_length=200, blank=True, help_text="e.g. 'back skin needs more sessions to show'"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TreatmentPlanQuerySet(models.QuerySet):
    def for_patient(self, patient) -> TreatmentPlanQuerySet:
        return self.filter(patient=patient)

    def active(self) -> TreatmentPlanQuerySet:
        return self.filter(status=TreatmentPlan.Status.ACTIVE)


class TreatmentPlan(models.Model):
    """A course: one patient, one area, one modality, a number of sessions at an interval."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"

    patient = models.ForeignKey("people.Patient", on_delete=models.PROTECT, related_name="plans")
    modality = models.ForeignKey(Modality, on_delete=models.PROTECT, related_name="plans")
    body_area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="plans")
    session_count = models.PositiveSmallIntegerField()
    interval_days = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = TreatmentPlanQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return f"{self.modality} · {self.body_area} · {self.patient}"


class SessionQuerySet(models.QuerySet):
    def for_patient(self, patient) -> SessionQuerySet:
        return self.filter(patient=patient)

    def upcoming(self, now=None) -> SessionQuerySet:
        now = now or timezone.now()
        return self.filter(starts_at__gte=now, status__in=Session.ACTIVE_STATUSES).order_by(
            "starts_at"
        )

    def active(self) -> SessionQuerySet:
        """Sessions that hold their time slot: not cancelled and not a no-show."""
        return self.filter(status__in=Session.ACTIVE_STATUSES)


class Session(models.Model):
    """One treatment session of a plan. Planned first; booked once it has a time."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    ACTIVE_STATUSES = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="sessions")
    # The patient is the plan's; kept here too so calendars and portals filter without a join.
    patient = models.ForeignKey("people.Patient", on_delete=models.PROTECT, related_name="sessions")
    number = models.PositiveSmallIntegerField(help_text="1 for the first session of the course.")
    depth_level = models.ForeignKey(
        DepthLevel, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PLANNED, db_index=True
    )
    proposed_date = models.DateField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="treatment_sessions",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="unique_session_number"),
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="session_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "starts_at"]),
            models.Index(fields=["practitioner", "starts_at"]),
            models.Index(fields=["starts_at"]),
        ]

    def __str__(self) -> str:
        return f"Session {self.number} of {self.plan}"

    def clean(self) -> None:
        if self.plan_id and self.patient_id and self.plan.patient_id != self.patient_id:
            raise ValidationError("A session belongs to the patient of its plan.")
        if (
            self.depth_level_id
            and self.plan_id
            and self.depth_level.modality_id != self.plan.modality_id
        ):
            raise ValidationError(
                {"depth_level": f"{self.depth_level} is not a level of {self.plan.modality}."}
            )
