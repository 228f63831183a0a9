"""Who and what a session needs, when they are available, and the reservations that hold them.

A booked session holds one Reservation row per resource it occupies (its practitioner, its
room, a shared device if the modality needs one, and the patient). On PostgreSQL an exclusion
constraint over (resource, time range) where active makes a double booking impossible; on
SQLite the booking service serialises writers (IMMEDIATE transactions) and checks overlaps.
"""

from __future__ import annotations

import itertools
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def _new_token() -> str:
    return secrets.token_urlsafe(32)


new_calendar_token = _new_token  # the migrations name the private one


class PractitionerQuerySet(models.QuerySet):
    def with_schedule(self, first_day, last_day) -> PractitionerQuerySet:
        """Active practitioners with their weekly hours and the exceptions in the date range
        prefetched: everything `availability.work_intervals` reads, in three queries."""
        return (
            self.filter(active=True)
            .select_related("user")
            .prefetch_related(
                "working_hours",
                models.Prefetch(
                    "exceptions",
                    queryset=AvailabilityException.objects.filter(
                        first_day__lte=last_day, last_day__gte=first_day
                    ),
                ),
            )
        )


class Practitioner(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practitioner"
    )
    modalities = models.ManyToManyField(
        "treatments.Modality", blank=True, related_name="practitioners", help_text="Qualified for."
    )
    colour = models.CharField(
        max_length=20, default="teal", help_text="A colour name for the calendar column."
    )
    active = models.BooleanField(default=True)
    calendar_token = models.CharField(max_length=64, unique=True, default=_new_token)

    objects = PractitionerQuerySet.as_manager()

    class Meta:
        ordering = ["user__first_name", "user__last_name", "id"]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.username

    @property
    def resource_key(self) -> str:
        return f"practitioner:{self.user_id}"


class WorkingHours(models.Model):
    """A weekly block of work, in the clinic's local time (weekday 0 = Monday)."""

    WEEKDAYS = [
        (0, "Monday"),
        (1, "Tuesday"),
        (2, "Wednesday"),
        (3, "Thursday"),
        (4, "Friday"),
        (5, "Saturday"),
        (6, "Sunday"),
    ]

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["practitioner", "weekday", "starts"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends__gt=models.F("starts")),
                name="working_hours_end_after_start",
                violation_error_message="A block of working hours must end after it starts.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"


def overlapping_hours(blocks) -> list[str]:
    """A sentence for each weekly block that overlaps the one before it on its weekday.

    `blocks`: (weekday, starts, ends) triples, saved or not (a form's rows checked together).
    """
    by_day: dict[int, list] = {}
    for weekday, starts, ends in blocks:
        by_day.setdefault(weekday, []).append((starts, ends))
    names = dict(WorkingHours.WEEKDAYS)
    problems = []
    for weekday, spans in sorted(by_day.items()):
        spans.sort()
        for (first_start, first_end), (next_start, next_end) in itertools.pairwise(spans):
            if next_start < first_end:
                problems.append(
                    f"{names[weekday]}: {first_start:%H:%M}-{first_end:%H:%M} overlaps "
                    f"{next_start:%H:%M}-{next_end:%H:%M}. Make them one block, or let one "
                    "end when the next begins."
                )
    return problems


class AvailabilityException(models.Model):
    """A holiday, a sick day, or different hours on some dates (inclusive range)."""

    class Kind(models.TextChoices):
        OFF = "off", "Not working"
        CHANGED = "changed", "Different hours"

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="exceptions"
    )
    first_day = models.DateField()
    last_day = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OFF)
    starts = models.TimeField(null=True, blank=True, help_text="For different hours only.")
    ends = models.TimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["practitioner", "first_day"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.first_day}-{self.last_day}"

    def clean(self) -> None:
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValidationError("The last day cannot be before the first day.")
        if self.kind == self.Kind.CHANGED and not (
            self.starts and self.ends and self.ends > self.starts
        ):
            raise ValidationError("Different hours need a start and an end time, end after start.")


class Room(models.Model):
    name = models.CharField(max_length=60, unique=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def resource_key(self) -> str:
        return f"room:{self.pk}"


class Device(models.Model):
    """A device shared between rooms (the clinic's one laser): one session at a time."""

    name = models.CharField(max_length=60, unique=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def resource_key(self) -> str:
        return f"device:{self.pk}"


class ModalityRequirement(models.Model):
    """What a modality needs besides a qualified practitioner."""

    modality = models.OneToOneField(
        "treatments.Modality", on_delete=models.CASCADE, related_name="requirement"
    )
    needs_room = models.BooleanField(default=True)
    device = models.ForeignKey(
        Device, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rooms = models.ManyToManyField(
        Room, blank=True, related_name="+", help_text="Rooms equipped for it; empty means any room."
    )

    def __str__(self) -> str:
        return f"Requirements of {self.modality}"


class CrossModalityGap(models.Model):
    """After a session of `after`, no session of `then` for `days` days."""

    after = models.ForeignKey("treatments.Modality", on_delete=models.CASCADE, related_name="+")
    then = models.ForeignKey("treatments.Modality", on_delete=models.CASCADE, related_name="+")
    days = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["after", "then"], name="unique_cross_modality_gap")
        ]

    def __str__(self) -> str:
        return f"No {self.then} within {self.days} days after {self.after}"


class Booking(models.Model):
    """The booking facts of a session that its own table does not hold."""

    class CancelledBy(models.TextChoices):
        PATIENT = "patient", "Patient"
        CLINIC = "clinic", "Clinic"

    session = models.OneToOneField(
        "treatments.Session", on_delete=models.CASCADE, related_name="booking"
    )
    room = models.ForeignKey(Room, on_delete=models.PROTECT, null=True, blank=True)
    device = models.ForeignKey(Device, on_delete=models.PROTECT, null=True, blank=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    booked_at = models.DateTimeField(default=timezone.now)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=10, choices=CancelledBy.choices, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    cancelled_late = models.BooleanField(default=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # RFC 5545 SEQUENCE of the session's calendar event (its UID never changes): raised each
    # time the session is moved, cancelled or booked again, so a calendar that imported an
    # earlier .ics takes the newer one as the update.
    calendar_sequence = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Booking of {self.session_id}"


class Reservation(models.Model):
    """One resource held by one session from its start to its end plus the cleaning buffer."""

    session = models.ForeignKey(
        "treatments.Session", on_delete=models.CASCADE, related_name="reservations"
    )
    resource = models.CharField(max_length=40, help_text="practitioner:<user id>, room:<id>, ...")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["resource", "starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="reservation_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.starts_at:%Y-%m-%d %H:%M}"
