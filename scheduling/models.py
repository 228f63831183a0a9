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
    # The patient said they will come, from a reminder's signed link; cleared when the session
    # moves or is booked again (they confirmed that time, not the new one).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_via = models.CharField(max_length=20, blank=True, help_text="email link, sms link")
    # RFC 5545 SEQUENCE of the session's calendar event (its UID never changes): raised each
    # time the session is moved, cancelled or booked again, so a calendar that imported an
    # earlier .ics takes the newer one as the update.
    calendar_sequence = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Booking of {self.session_id}"


class PreSessionCheckRequest(models.Model):
    """The email asking a patient the day-to-day questions before a booked session, once per
    booked time: the row is the claim (unique per session and time), so two beat runs or two
    workers send it once, and a session moved to a new time is asked again for that time."""

    session = models.ForeignKey(
        "treatments.Session", on_delete=models.CASCADE, related_name="check_requests"
    )
    starts_at = models.DateTimeField(help_text="The session's time the request was sent for.")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "starts_at"], name="one_check_request_per_booked_time"
            )
        ]

    def __str__(self) -> str:
        return f"Pre-session check asked for session {self.session_id}"


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


class ChangeRequestQuerySet(models.QuerySet):
    def open(self) -> ChangeRequestQuerySet:
        return self.filter(state=ChangeRequest.State.NEW)


class ChangeRequest(models.Model):
    """A patient's wish, sent from the portal, to move or cancel a booked session: the desk's
    to-do until someone handles it (moves the session, cancels it, or declines with a note).

    A portal cancellation cancels at once (within the notice period); its request is the desk's
    reminder to find the patient a new date. One open request per session at a time.
    """

    class Kind(models.TextChoices):
        CHANGE = "change", "Change request"
        CANCEL = "cancel", "Cancellation"

    class State(models.TextChoices):
        NEW = "new", "New"
        HANDLED = "handled", "Handled"
        WITHDRAWN = "withdrawn", "Withdrawn by the patient"

    class Outcome(models.TextChoices):
        MOVED = "moved", "Moved"
        CANCELLED = "cancelled", "Cancelled"
        DECLINED = "declined", "Declined"

    class Preferred(models.TextChoices):
        MORNINGS = "mornings", "Mornings"
        AFTERNOONS = "afternoons", "Afternoons"
        MONDAY = "monday", "Mondays"
        TUESDAY = "tuesday", "Tuesdays"
        WEDNESDAY = "wednesday", "Wednesdays"
        THURSDAY = "thursday", "Thursdays"
        FRIDAY = "friday", "Fridays"
        SATURDAY = "saturday", "Saturdays"

    session = models.ForeignKey(
        "treatments.Session", on_delete=models.CASCADE, related_name="change_requests"
    )
    patient = models.ForeignKey(
        "people.Patient", on_delete=models.CASCADE, related_name="change_requests"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    message = models.TextField(blank=True)
    # Preferred.values the patient ticked; the message says the rest in their words.
    preferred_times = models.JSONField(default=list, blank=True)
    # Where the session was when the patient asked: the desk and the portal say "was ...".
    session_starts_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    created_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    # The desk's words to the patient (a decline says why); emailed and shown in the portal.
    note = models.TextField(blank=True)

    objects = ChangeRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=models.Q(state="new"),
                name="one_open_change_request_per_session",
                violation_error_message="There is already an open request for this session.",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="handled")
                | (models.Q(handled_at__isnull=False) & ~models.Q(outcome="")),
                name="handled_change_request_has_outcome",
            ),
        ]
        indexes = [models.Index(fields=["state", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for session {self.session_id}"

    @property
    def preferred_labels(self) -> list[str]:
        labels = dict(self.Preferred.choices)
        return [labels[value] for value in self.preferred_times if value in labels]

    @property
    def is_open(self) -> bool:
        return self.state == self.State.NEW


class InboxMark(models.Model):
    """ "Handled" for an inbox item whose own record has no such state (a flagged session, a
    failed email): who marked it and when. An item flagged again after the mark is new again."""

    kind = models.CharField(max_length=20)
    object_id = models.PositiveBigIntegerField()
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="one_inbox_mark_per_item")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} handled"


class WaitlistEntry(models.Model):
    """A patient's wish for an earlier time for a booked session, or for any time for one not
    booked yet, within an optional window. Offers go out in the order entries were made."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked from an offer"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Times(models.TextChoices):
        ANY = "any", "Any time of day"
        MORNING = "morning", "Mornings (before noon)"
        AFTERNOON = "afternoon", "Afternoons (from noon)"

    session = models.ForeignKey(
        "treatments.Session", on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    # The session's patient, kept here too so the desk's list and the audit need no join.
    patient = models.ForeignKey(
        "people.Patient", on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    earliest_day = models.DateField(null=True, blank=True)
    latest_day = models.DateField(null=True, blank=True)
    # Weekdays that suit (0 = Monday); empty means any day the clinic works.
    weekdays = models.JSONField(default=list, blank=True)
    times = models.CharField(max_length=10, choices=Times.choices, default=Times.ANY)
    note = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=models.Q(status="waiting"),
                name="one_waiting_entry_per_session",
                violation_error_message="This session is already on the waiting list.",
            ),
            models.CheckConstraint(
                condition=models.Q(earliest_day__isnull=True)
                | models.Q(latest_day__isnull=True)
                | models.Q(latest_day__gte=models.F("earliest_day")),
                name="waitlist_window_in_order",
                violation_error_message="The latest day cannot be before the earliest day.",
            ),
        ]

    def __str__(self) -> str:
        return f"Waiting list: session {self.session_id} ({self.get_status_display().lower()})"

    @property
    def window_words(self) -> str:
        """The window in words for the desk and the patient: "from 3 March, Mon/Tue, mornings"."""
        parts = []
        if self.earliest_day and self.latest_day:
            parts.append(f"{self.earliest_day:%-d %b} to {self.latest_day:%-d %b %Y}")
        elif self.earliest_day:
            parts.append(f"from {self.earliest_day:%-d %b %Y}")
        elif self.latest_day:
            parts.append(f"until {self.latest_day:%-d %b %Y}")
        if self.weekdays:
            names = dict(WorkingHours.WEEKDAYS)
            parts.append(", ".join(names[d][:3] for d in sorted(self.weekdays)))
        if self.times != self.Times.ANY:
            parts.append(self.get_times_display().split(" ")[0].lower())
        return "; ".join(parts) or "any time"


class WaitlistOpening(models.Model):
    """A time freed by a cancellation or a move, offered to the waiting list."""

    class Status(models.TextChoices):
        OPEN = "open", "Offered"
        FILLED = "filled", "Filled from the waiting list"

    freed_by = models.ForeignKey(
        "treatments.Session", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    starts_at = models.DateTimeField()
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    filled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"Freed time {self.starts_at:%Y-%m-%d %H:%M}"


class WaitlistOffer(models.Model):
    """One freed time offered to one waiting entry, by email with a signed link."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        GONE = "gone", "Taken by someone else"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "No longer needed"

    opening = models.ForeignKey(WaitlistOpening, on_delete=models.CASCADE, related_name="offers")
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    # Part of the signed link, so a link names one offer and cannot be made for another.
    key = models.CharField(max_length=64, unique=True, default=_new_token)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENT)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["opening", "id"]
        indexes = [models.Index(fields=["status", "expires_at"])]
        constraints = [
            models.UniqueConstraint(fields=["opening", "entry"], name="one_offer_per_entry")
        ]

    def __str__(self) -> str:
        return f"Offer {self.pk} ({self.status})"

    @property
    def patient_id(self) -> int:
        """Whose record the offer concerns, for the audit of a look at it."""
        return self.entry.patient_id

    @property
    def patient(self):
        return self.entry.patient

    @property
    def session(self):
        return self.entry.session

    def state(self, now=None) -> str:
        """The status, with a sent offer past its time shown as expired."""
        if self.status == self.Status.SENT and self.expires_at <= (now or timezone.now()):
            return self.Status.EXPIRED
        return self.status

    def state_display(self, now=None) -> str:
        return self.Status(self.state(now)).label
