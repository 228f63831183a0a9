"""The treatment catalogue, courses (plans) and their sessions.

The catalogue is data a clinic admin edits; the clinic's starting values come from a data
migration (see ../shared/DOMAIN.md). Nothing clinical is hard-coded in views.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from . import windows


class Modality(models.Model):
    class Kind(models.TextChoices):
        MICRODERMABRASION = "microdermabrasion", "Microdermabrasion"
        MICRONEEDLING = "microneedling", "Microneedling"
        LASER_PEEL = "laser_peel", "Laser peel"
        LASER_RESURFACING = "laser_resurfacing", "Laser resurfacing"
        # Not a treatment: a first talk, the skin assessed and a course proposed. Screening
        # rules and aftercare do not apply to it; it has no depth level, only its own length.
        CONSULTATION = "consultation", "Consultation"

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
    typical_sessions = models.CharField(
        max_length=100, blank=True, help_text="As the clinic tells patients, e.g. '5 to 12'."
    )
    levels_rise = models.BooleanField(
        default=False,
        help_text="A course goes deeper session by session (laser: superficial, medium, deep);"
        " otherwise every session starts at the first level.",
    )
    session_minutes = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="How long a session without a depth level takes (a consultation);"
        " empty: 45 minutes. A session with a level takes its level's length.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "modalities"

    def __str__(self) -> str:
        return self.name

    @property
    def is_treatment(self) -> bool:
        """False for a consultation: screening and aftercare concern treatments only."""
        return self.kind != self.Kind.CONSULTATION


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
    """A treated area. Areas form a hierarchy the clinic edits: the face holds the lips, the
    eyes, the cheeks, ... Two areas overlap when one is, or holds, the other (treatments.areas)."""

    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(unique=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text="The area this one is part of (the lips are part of the face), if any.",
    )
    extra_sessions_note = models.CharField(
        max_length=200, blank=True, help_text="e.g. 'back skin needs more sessions to show'"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.parent_id is None or self.pk is None:
            return
        if self.parent_id == self.pk:
            raise ValidationError({"parent": "An area cannot be part of itself."})
        # Walk up from the new parent: meeting this area there would make a loop.
        seen: set[int] = set()
        holder = self.parent
        while holder is not None and holder.pk not in seen:
            if holder.pk == self.pk:
                loop = f"{self.parent} is part of {self}: an area cannot hold what holds it."
                raise ValidationError({"parent": loop})
            seen.add(holder.pk)
            holder = holder.parent


class Indication(models.Model):
    """What a patient comes for: a skin condition. Some are recorded only to be refused."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    not_treatable_reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="When set, no course is planned for this condition and this is the reason shown"
        " (e.g. hormonal pigmentation).",
    )
    modalities = models.ManyToManyField(
        Modality, through="ModalityIndication", related_name="indications", blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModalityIndication(models.Model):
    """Which modality treats which indication, and how well."""

    class Benefit(models.TextChoices):
        GOOD = "good", "Good"
        LIMITED = "limited", "Limited benefit"

    modality = models.ForeignKey(Modality, on_delete=models.CASCADE, related_name="treats")
    indication = models.ForeignKey(Indication, on_delete=models.CASCADE, related_name="treated_by")
    benefit = models.CharField(max_length=10, choices=Benefit.choices, default=Benefit.GOOD)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["modality", "indication"]
        constraints = [
            models.UniqueConstraint(
                fields=["modality", "indication"], name="unique_modality_indication"
            )
        ]

    def __str__(self) -> str:
        return f"{self.modality} treats {self.indication} ({self.get_benefit_display()})"


class TreatmentPlanQuerySet(models.QuerySet):
    def for_patient(self, patient) -> TreatmentPlanQuerySet:
        return self.filter(patient=patient)

    def active(self) -> TreatmentPlanQuerySet:
        return self.filter(status=TreatmentPlan.Status.ACTIVE)

    def open(self) -> TreatmentPlanQuerySet:
        """Courses under way or proposed: the ones whose sessions the desk books."""
        return self.filter(status__in=TreatmentPlan.BOOKABLE_STATUSES)

    def with_progress(self) -> TreatmentPlanQuerySet:
        """Annotates sessions_done, sessions_cancelled and sessions_ahead in the same query."""
        S = Session.Status
        return self.annotate(
            sessions_done=models.Count("sessions", filter=models.Q(sessions__status=S.COMPLETED)),
            sessions_cancelled=models.Count(
                "sessions", filter=models.Q(sessions__status__in=[S.CANCELLED, S.NO_SHOW])
            ),
            sessions_ahead=models.Count(
                "sessions",
                filter=models.Q(sessions__status__in=[S.PLANNED, S.BOOKED, S.CHECKED_IN]),
            ),
        )


class TreatmentPlan(models.Model):
    """A course: one patient, one area, one modality, a number of sessions at an interval."""

    class Status(models.TextChoices):
        # Proposed by the desk from a course template: its sessions may be booked (tentative),
        # none is recorded before a clinician confirms the course (treatments/gate.py).
        PROPOSED = "proposed", "Proposed, to be confirmed by a clinician"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"

    BOOKABLE_STATUSES = (Status.PROPOSED, Status.ACTIVE)

    patient = models.ForeignKey("people.Patient", on_delete=models.PROTECT, related_name="plans")
    modality = models.ForeignKey(Modality, on_delete=models.PROTECT, related_name="plans")
    body_area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="plans")
    indication = models.ForeignKey(
        Indication, on_delete=models.PROTECT, null=True, blank=True, related_name="plans"
    )
    session_count = models.PositiveSmallIntegerField()
    interval_days = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    template = models.ForeignKey(
        "CourseTemplate",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="plans",
        help_text="The clinic's course template it was proposed from, if any.",
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    objects = TreatmentPlanQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"])]
        permissions = [
            ("propose_treatmentplan", "Can propose a course or book a consultation"),
            ("confirm_treatmentplan", "Can confirm a proposed course"),
        ]

    def __str__(self) -> str:
        return f"{self.modality} · {self.body_area} · {self.patient}"

    def get_absolute_url(self) -> str:
        return reverse("treatments:plan_detail", args=[self.pk])

    @property
    def is_complete(self) -> bool:
        return self.status == self.Status.COMPLETED

    @property
    def is_proposed(self) -> bool:
        return self.status == self.Status.PROPOSED


class CourseTemplate(models.Model):
    """A course the clinic offers, as the desk proposes it: modality, area, indication, number
    of sessions, interval, and the level of each session (CourseTemplateLevel; sessions
    without one take the catalogue's suggestion). Admin-edited data; a clinician confirms
    every course proposed from it."""

    name = models.CharField(max_length=120, unique=True)
    modality = models.ForeignKey(Modality, on_delete=models.PROTECT, related_name="templates")
    body_area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="templates")
    indication = models.ForeignKey(Indication, on_delete=models.PROTECT, related_name="templates")
    session_count = models.PositiveSmallIntegerField()
    interval_days = models.PositiveSmallIntegerField()
    active = models.BooleanField(default=True, help_text="Untick to stop offering it.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not self.modality_id:
            return
        modality = self.modality
        if not modality.is_treatment:
            raise ValidationError({"modality": "A course template is for a treatment."})
        if not 1 <= (self.session_count or 0) <= 30:
            raise ValidationError({"session_count": "Give between 1 and 30 sessions."})
        if self.interval_days is not None and self.interval_days < modality.min_interval_days:
            raise ValidationError(
                {
                    "interval_days": f"{modality.name} sessions need at least "
                    f"{modality.min_interval_days} days between them."
                }
            )
        if (
            self.indication_id
            and not ModalityIndication.objects.filter(
                modality_id=self.modality_id, indication_id=self.indication_id
            ).exists()
        ):
            raise ValidationError(
                {"indication": f"{modality.name} is not a treatment for {self.indication}."}
            )


class CourseTemplateLevel(models.Model):
    """The depth level of one session of a course template (laser: rising session by session)."""

    template = models.ForeignKey(CourseTemplate, on_delete=models.CASCADE, related_name="levels")
    number = models.PositiveSmallIntegerField(help_text="1 for the first session.")
    depth_level = models.ForeignKey(DepthLevel, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["template", "number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="unique_template_session")
        ]

    def __str__(self) -> str:
        return f"Session {self.number}: {self.depth_level.name}"

    def clean(self) -> None:
        if self.template_id and self.depth_level_id:
            if self.depth_level.modality_id != self.template.modality_id:
                modality = self.template.modality
                raise ValidationError(
                    {"depth_level": f"{self.depth_level} is not a level of {modality}."}
                )
            if self.number and self.number > self.template.session_count:
                raise ValidationError(
                    {"number": f"The template has {self.template.session_count} sessions."}
                )


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

    def flagged(self) -> SessionQuerySet:
        """Sessions ahead that screening flags now."""
        return (
            self.filter(status__in=Session.FLAGGABLE_STATUSES)
            .exclude(flag="")
            .order_by("starts_at", "pk")
        )


class Session(models.Model):
    """One treatment session of a plan. Planned first; booked once it has a time."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    class Flag(models.TextChoices):
        NONE = "", "No finding"
        CONFIRM = "confirm", "Relative finding: the clinician decides"
        BLOCKED = "blocked", "Refused by screening"

    ACTIVE_STATUSES = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)
    # Sessions ahead that screening re-checks when what it reads changes.
    FLAGGABLE_STATUSES = (Status.BOOKED, Status.CHECKED_IN)

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
    # What was done, recorded by the clinician when completing the session.
    areas = models.ManyToManyField(BodyArea, blank=True, related_name="treated_in")
    products = models.TextField(blank=True, help_text="Products and settings used.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who treated the patient: the booked practitioner unless the record names a colleague
    # (who steps in is not who was booked, nor always who fills in the form).
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions_performed",
    )
    # The screening the session was completed under (treatments/gate.py): set only by
    # services.session_record, and required of every completed session by a constraint.
    # Why the session's depth goes against its course's rising progression, when it does.
    level_reason = models.CharField(max_length=300, blank=True)
    completed_screening = models.ForeignKey(
        "Screening", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The aftercare as it was when the session was recorded (treatments/aftercare.py): a list
    # of {"text", "until"}; None for a session completed before aftercare was kept.
    aftercare = models.JSONField(null=True, blank=True, editable=False)
    # What screening finds for the booked day now, kept current by services.sessions_rescreen
    # whenever the history changes or the session moves: for the desk, the chart and the
    # portal (which only says "please contact us").
    flag = models.CharField(max_length=10, choices=Flag.choices, blank=True, default="")
    flag_reason = models.TextField(blank=True, help_text="The findings, for staff.")
    flag_lifts_on = models.DateField(
        null=True, blank=True, help_text="The first day the findings no longer apply, if known."
    )
    flagged_at = models.DateTimeField(null=True, blank=True)

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
            models.CheckConstraint(
                condition=~models.Q(status="completed")
                | models.Q(completed_screening__isnull=False),
                name="completed_session_names_its_screening",
                violation_error_message="A session is completed only through its screening.",
            ),
        ]
        permissions = [("record_session", "Can record (complete) a treatment session")]
        indexes = [
            models.Index(fields=["patient", "starts_at"]),
            models.Index(fields=["practitioner", "starts_at"]),
            models.Index(fields=["starts_at"]),
        ]

    def __str__(self) -> str:
        return f"Session {self.number} of {self.plan}"

    def get_absolute_url(self) -> str:
        return reverse("treatments:session_detail", args=[self.pk])

    @property
    def day(self) -> date | None:
        """The local date the session happens (or happened, or is proposed for)."""
        return self.day_of(self.status, self.completed_at, self.starts_at, self.proposed_date)

    @classmethod
    def day_of(cls, status, completed_at, starts_at, proposed_date) -> date | None:
        """`day` from the columns alone, for lists read without building sessions. A booked
        session keeps its booked day, even when it is recorded after midnight."""
        moment = starts_at or (completed_at if status == cls.Status.COMPLETED else None)
        if moment is not None:
            return timezone.localdate(moment)
        return proposed_date

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


# --- Screening: what is checked before a session --------------------------------------------


class Factor(models.Model):
    """Something screening asks about: a condition, a medication, a treatment, an exposure.

    A treatment factor may name the clinic's own modalities that count as it: a laser session
    recorded here is a "laser or IPL treatment" without anyone typing it into the history.
    """

    class Kind(models.TextChoices):
        CONDITION = "condition", "Condition"
        MEDICATION = "medication", "Medication"
        TREATMENT = "treatment", "Recent treatment"
        EXPOSURE = "exposure", "Recent exposure"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    in_pre_session_check = models.BooleanField(
        default=False, help_text="Asked in the short check before each session (today's state)."
    )
    in_intake = models.BooleanField(
        default=False,
        help_text="Asked in the health questionnaire a new patient fills in before the first"
        " visit.",
    )
    intake_question = models.CharField(
        max_length=200,
        blank=True,
        help_text="How the questionnaire asks about it, in the patient's words, e.g. 'Are you"
        " pregnant, or could you be?'. Empty: the name.",
    )
    counts_modalities = models.ManyToManyField(
        Modality,
        blank=True,
        related_name="counts_as",
        help_text="Sessions of these modalities recorded here count as this treatment.",
    )
    # The patient's own check before a session (portal): the same factors, in plain words.
    patient_question = models.CharField(
        max_length=200,
        blank=True,
        help_text="How the patient is asked before a session, in plain words, e.g. 'Do you"
        " have a cold sore?'. Empty: the name, as a question.",
    )
    patient_date_question = models.CharField(
        max_length=120,
        blank=True,
        help_text="Asked with a yes, e.g. 'Since when?' or 'When was the last time?'."
        " Empty: the day the patient answers is taken.",
    )
    reported_lasts_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="A condition a patient reports before a session is taken to last this many"
        " days from the day it began (a cold sore heals in about 10), or at least until the day"
        " they answer. Empty: until a clinician sees the patient.",
    )

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dated(self) -> bool:
        """A treatment or an exposure happens on a day; a condition or medication lasts."""
        return self.kind in (self.Kind.TREATMENT, self.Kind.EXPOSURE)

    @property
    def question_for_patient(self) -> str:
        return self.patient_question or f"{self.name}?"

    def clean(self) -> None:
        if self.in_pre_session_check and self.is_dated and not self.patient_date_question:
            raise ValidationError(
                {
                    "patient_date_question": "A treatment or exposure counts from the day it"
                    " happened: ask the patient for it (e.g. 'When was the last time?')."
                }
            )

    @property
    def question(self) -> str:
        return self.intake_question or self.name


class ScreeningRule(models.Model):
    """One contraindication: a factor within a look-back window, for some modalities and levels.

    A window of N units (days, weeks or calendar months) counts the factor from the day it was
    present through the day N units later (treatments/windows.py: one boundary rule for every
    unit). Without a window, only a factor present on the day counts (an active condition, a
    medication still taken, something in that day's check).

    The texts shown are built from the rule's data: the reason holds no window, the window is
    added from `window` and `window_unit`, so an edit to the window changes every text with it.
    A rule that screenings have used is retired (`active` off), never deleted: their findings
    point at it.
    """

    class Severity(models.TextChoices):
        ABSOLUTE = "absolute", "Absolute (refused)"
        RELATIVE = "relative", "Relative (clinician may proceed, recording why)"

    class Unit(models.TextChoices):
        DAYS = windows.DAYS, "days"
        WEEKS = windows.WEEKS, "weeks"
        MONTHS = windows.MONTHS, "calendar months"

    name = models.CharField(max_length=120, unique=True)
    factor = models.ForeignKey(Factor, on_delete=models.PROTECT, related_name="rules")
    window = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Look-back: the factor counts from its day through this many units later;"
        " empty means 'present on the day'.",
    )
    window_unit = models.CharField(max_length=6, choices=Unit.choices, default=Unit.DAYS)
    modalities = models.ManyToManyField(
        Modality, blank=True, related_name="screening_rules", help_text="Empty: every modality."
    )
    levels = models.ManyToManyField(
        DepthLevel,
        blank=True,
        related_name="screening_rules",
        help_text="Limits the rule to these levels of their modalities; a chosen modality with"
        " none of its levels listed is screened at every level.",
    )
    same_area_only = models.BooleanField(
        default=False, help_text="Only counts when it happened in the area being treated."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices)
    reason = models.CharField(
        max_length=300,
        help_text="Shown to staff when the rule fires, followed by the window ('within 7 days')"
        " and the evidence. Do not write the window here: it comes from the window fields.",
    )
    patient_advice = models.CharField(
        max_length=200,
        blank=True,
        help_text="What a booked patient is asked to avoid, e.g. 'no waxing in the treated"
        " area'; the booking email dates it from the window. Empty: nothing is asked.",
    )
    active = models.BooleanField(
        default=True, help_text="Untick to retire the rule: screening no longer reads it."
    )
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def window_text(self) -> str:
        """'7 days', '2 weeks', '6 months'; '' for a rule of the day itself."""
        return windows.describe(self.window, self.window_unit)

    def clean(self) -> None:
        if WINDOW_IN_PROSE.search(self.reason or ""):
            raise ValidationError(
                {
                    "reason": "Leave the window out of the reason: it is added from the window"
                    " and its unit, so the text changes when the window does."
                }
            )


WINDOW_IN_PROSE = re.compile(r"\b\d+\s*(day|week|month|year)s?\b", re.IGNORECASE)


EXPECTED_END_DAYS = 366  # how far ahead a history entry's expected end may lie


class HistoryEntryQuerySet(models.QuerySet):
    def for_patient(self, patient) -> HistoryEntryQuerySet:
        return self.filter(patient=patient)

    def current(self) -> HistoryEntryQuerySet:
        """What the history says now: every entry not corrected or changed since (what
        screening reads; a patient's report counts from the moment it is sent)."""
        return self.filter(superseded_at__isnull=True)

    def reported(self) -> HistoryEntryQuerySet:
        return self.filter(source=HistoryEntry.Source.PATIENT)


class HistoryEntry(models.Model):
    """One line of a patient's medical history: a condition, a medication, a treatment elsewhere.

    For a condition or medication, `started_on`..`ended_on` is when it was present (no end: still
    present). For a treatment or an exposure, `started_on` is the day it happened.

    An entry is never rewritten once someone else relies on it: a patient's own report (the
    intake questionnaire) stays as they gave it. A clinician confirms it, or corrects it: the
    correction is a new entry that `corrects` it, and the report is marked superseded (when,
    by whom, why). A correction may also say the report does not apply, with no new entry.
    Screening reads the current entries only (`HistoryEntry.objects.current()`).
    """

    class Source(models.TextChoices):
        CLINIC = "clinic", "Recorded by the clinic"
        PATIENT = "patient", "Reported by the patient"

    patient = models.ForeignKey(
        "people.Patient", on_delete=models.CASCADE, related_name="history_entries"
    )
    factor = models.ForeignKey(Factor, on_delete=models.PROTECT, related_name="history_entries")
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    body_area = models.ForeignKey(
        BodyArea, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notes = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CLINIC)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        help_text="The entry this one replaces (kept, marked superseded).",
    )
    superseded_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when a correction or a later report replaced it."
    )
    superseded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who replaced it: the clinician who corrected it, or the patient who changed"
        " their answer.",
    )
    superseded_note = models.CharField(max_length=300, blank=True)

    objects = HistoryEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "-id"]
        verbose_name_plural = "history entries"
        permissions = [
            ("confirm_historyentry", "Can confirm or correct what a patient reported"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(superseded_at__isnull=True)
                | models.Q(superseded_by__isnull=False),
                name="history_superseded_says_by_whom",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.factor} ({self.started_on or 'date unknown'})"

    @property
    def is_reported(self) -> bool:
        return self.source == self.Source.PATIENT

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None

    def clean(self) -> None:
        if self.started_on and self.ended_on and self.ended_on < self.started_on:
            raise ValidationError({"ended_on": "The end date cannot be before the start date."})
        today = timezone.localdate()
        if self.started_on and self.started_on > today:
            raise ValidationError({"started_on": "History cannot start in the future."})
        # An expected end (a cold sore healing in three days) refuses treatment until then; an
        # end years ahead (9999-12-31) would refuse the patient every treatment for ever.
        if self.ended_on and self.ended_on > today + timedelta(days=EXPECTED_END_DAYS):
            raise ValidationError(
                {"ended_on": "An expected end can be at most a year in the future."}
            )
        born = self.patient.date_of_birth if self.patient_id else None
        for name, verb in (("started_on", "start"), ("ended_on", "end")):
            day = getattr(self, name)
            if day and born and day < born:
                raise ValidationError({name: f"History cannot {verb} before the patient was born."})
        dated = (Factor.Kind.TREATMENT, Factor.Kind.EXPOSURE)
        if self.factor_id and self.factor.kind in dated and not self.started_on:
            raise ValidationError({"started_on": "Give the day it happened."})


class IntakeQuerySet(models.QuerySet):
    def for_patient(self, patient) -> IntakeQuerySet:
        return self.filter(patient=patient)

    def latest_first(self) -> IntakeQuerySet:
        return self.order_by("-submitted_at", "-id")


class Intake(models.Model):
    """The health questionnaire a patient sends from the portal before the first visit: the
    skin type and goals they gave, and which questions they answered "no". Their "yes"
    answers are history entries reported by the patient (`HistoryEntry.Source.PATIENT`), which
    screening reads at once. The patient may change it until a clinician confirms it.

    A foreign key, not one-to-one: merging two records of one person keeps both intakes; the
    latest sent is the patient's."""

    class SkinType(models.TextChoices):
        # The Fitzpatrick scale, as patients recognise themselves in it.
        I = "I", "Type I: always burns, never tans (very fair)"  # noqa: E741
        II = "II", "Type II: usually burns, tans with difficulty (fair)"
        III = "III", "Type III: sometimes burns, tans gradually (medium)"
        IV = "IV", "Type IV: rarely burns, tans easily (olive, light brown)"
        V = "V", "Type V: very rarely burns, tans very easily (brown)"
        VI = "VI", "Type VI: never burns (dark brown to black)"
        UNSURE = "unsure", "I am not sure"

    patient = models.ForeignKey("people.Patient", on_delete=models.CASCADE, related_name="intakes")
    skin_type = models.CharField("Skin type (Fitzpatrick)", max_length=6, choices=SkinType.choices)
    goals = models.ManyToManyField(
        Indication, blank=True, related_name="+", help_text="What the patient wants treated."
    )
    goal_areas = models.ManyToManyField(
        BodyArea, blank=True, related_name="+", help_text="Where the patient wants it treated."
    )
    goals_note = models.CharField(max_length=500, blank=True)
    answered_no = models.ManyToManyField(
        Factor, blank=True, related_name="+", help_text="Questions the patient answered 'no'."
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = IntakeQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]

    def __str__(self) -> str:
        return f"Health questionnaire of {self.submitted_at:%Y-%m-%d}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class PreSessionCheck(models.Model):
    """A short check of the patient's state before a session: the clinician's on the day
    (the only one the gate accepts), or the patient's own answers in the portal before it
    (`source` PATIENT, with its PreSessionAnswer rows kept as answered)."""

    class Source(models.TextChoices):
        CLINICIAN = "clinician", "The clinician's check on the day"
        PATIENT = "patient", "Answered by the patient before the visit"

    patient = models.ForeignKey(
        "people.Patient", on_delete=models.CASCADE, related_name="pre_session_checks"
    )
    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, null=True, blank=True, related_name="checks"
    )
    checked_on = models.DateField(default=timezone.localdate)
    present = models.ManyToManyField(
        Factor, blank=True, related_name="+", help_text="What the patient has today."
    )
    notes = models.CharField(max_length=300, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checked_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CLINICIAN)

    class Meta:
        ordering = ["-checked_at", "-id"]

    def __str__(self) -> str:
        return f"Check on {self.checked_on}"

    @property
    def by_patient(self) -> bool:
        return self.source == self.Source.PATIENT


class PreSessionAnswer(models.Model):
    """One answer of a patient's own check before a session, as it was asked and answered:
    the question's words, yes or no, and the day given with a yes. `until` is the last day a
    reported condition is taken to last (the factor's `reported_lasts_days` when answered;
    None: no end known), decided once and kept."""

    pre_session_check = models.ForeignKey(
        PreSessionCheck, on_delete=models.CASCADE, related_name="answers"
    )
    factor = models.ForeignKey(Factor, on_delete=models.PROTECT, related_name="+")
    question = models.CharField(max_length=200)
    answer = models.BooleanField()
    day = models.DateField(null=True, blank=True, help_text="Since when, or the day it happened.")
    until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["pre_session_check", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["pre_session_check", "factor"], name="one_answer_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"{self.question} {'yes' if self.answer else 'no'}"


class ScreeningQuerySet(models.QuerySet):
    def for_patient(self, patient) -> ScreeningQuerySet:
        return self.filter(patient=patient)


class Screening(models.Model):
    """A stored screening: who screened, when, for what, what was found, and any override."""

    class Occasion(models.TextChoices):
        PLANNING = "planning", "Course planned"
        BOOKING = "booking", "Session booked"
        CHECK_IN = "check_in", "Check-in"
        # The patient's own answers before the visit: flags the session, never allows it.
        PRE_VISIT = "pre_visit", "Patient's answers before the visit"

    class Outcome(models.TextChoices):
        CLEAR = "clear", "Clear"
        RELATIVE = "relative", "Relative findings: clinician decides"
        OVERRIDDEN = "overridden", "Relative findings overridden"
        BLOCKED = "blocked", "Refused: absolute finding"

    patient = models.ForeignKey("people.Patient", on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(
        TreatmentPlan, on_delete=models.CASCADE, null=True, blank=True, related_name="screenings"
    )
    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, null=True, blank=True, related_name="screenings"
    )
    modality = models.ForeignKey(Modality, on_delete=models.PROTECT, related_name="+")
    depth_level = models.ForeignKey(
        DepthLevel, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body_area = models.ForeignKey(
        BodyArea, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    pre_session_check = models.ForeignKey(
        PreSessionCheck, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    occasion = models.CharField(max_length=20, choices=Occasion.choices)
    screened_for = models.DateField(help_text="The session day the rules were evaluated for.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    screened_at = models.DateTimeField(default=timezone.now)

    class OverrideCategory(models.TextChoices):
        MILD = "mild", "Mild or localised: the treated area is not affected"
        BENEFIT = "benefit", "Expected benefit outweighs the risk, discussed with the patient"
        CLEARED = "cleared", "Cleared by the patient's doctor or specialist"
        ADJUSTED = "adjusted", "Treatment adjusted to avoid the risk (depth, area, settings)"

    override_category = models.CharField(
        max_length=20, choices=OverrideCategory.choices, blank=True
    )
    override_reason = models.TextField(blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)

    objects = ScreeningQuerySet.as_manager()

    class Meta:
        ordering = ["-screened_at", "-id"]
        permissions = [("override_screening", "Can override relative screening findings")]

    def __str__(self) -> str:
        return f"Screening {self.pk} ({self.get_outcome_display()})"

    def get_absolute_url(self) -> str:
        return reverse("treatments:screening_detail", args=[self.pk])

    @property
    def allows_treatment(self) -> bool:
        return self.outcome in (self.Outcome.CLEAR, self.Outcome.OVERRIDDEN)


class ScreeningFinding(models.Model):
    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="findings")
    # PROTECT: a rule that screenings used is retired, never deleted (the admin says so).
    rule = models.ForeignKey(
        ScreeningRule, on_delete=models.PROTECT, null=True, blank=True, related_name="findings"
    )
    rule_name = models.CharField(max_length=120, help_text="As it was when the rule fired.")
    severity = models.CharField(max_length=10, choices=ScreeningRule.Severity.choices)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["severity", "id"]

    def __str__(self) -> str:
        return f"{self.rule_name}: {self.reason}"


# --- Aftercare ------------------------------------------------------------------------------


class AftercareRule(models.Model):
    """An instruction after a session: `text` for `days` days from the session day."""

    modality = models.ForeignKey(
        Modality,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="aftercare_rules",
        help_text="Empty: after every modality.",
    )
    levels = models.ManyToManyField(
        DepthLevel, blank=True, related_name="aftercare_rules", help_text="Empty: every level."
    )
    text = models.CharField(max_length=200, help_text="e.g. 'no retinoids'")
    days = models.PositiveSmallIntegerField(help_text="How many days after the session it holds.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.text} ({self.days} days)"


# --- Consent: a modality's consent form, its versions and the patients' signatures -------------


class PhotoPurpose(models.TextChoices):
    """What a patient's photos may be used for. The same values as photos.models.Purpose (a
    test holds them equal): the standing photo consent lives here, below photos, so that the
    consent form a patient signs holds it."""

    CLINICAL = "clinical", "Clinical record"
    PORTAL = "portal", "Shown in the portal"
    EDUCATION = "education", "Education"
    MARKETING = "marketing", "Marketing"


class ConsentForm(models.Model):
    """The consent form of one modality: what a patient reads and signs before a course of it.

    Its text lives in versions (ConsentVersion); an edit publishes a new version and leaves the
    old ones as they were, so a signature always points at the exact words signed.
    """

    modality = models.OneToOneField(Modality, on_delete=models.PROTECT, related_name="consent_form")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["modality__name"]

    def __str__(self) -> str:
        return f"Consent form: {self.modality.name}"


class ConsentVersion(models.Model):
    """One published text of a consent form. Never changed once saved: signatures point at it."""

    form = models.ForeignKey(ConsentForm, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    text = models.TextField(help_text="Paragraphs separated by a blank line.")
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["form", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="unique_consent_version")
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.number})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("A published consent text is never changed: publish a new one.")
        super().save(*args, **kwargs)

    @property
    def paragraphs(self) -> list[str]:
        return [part.strip() for part in re.split(r"\n\s*\n", self.text) if part.strip()]


class ConsentSignatureQuerySet(models.QuerySet):
    def for_patient(self, patient) -> ConsentSignatureQuerySet:
        return self.filter(patient=patient)


class ConsentSignature(models.Model):
    """A patient's signature under one version of a consent form: the name they typed, the
    signature they drew (a PNG), when and from which address, in the portal or on the
    clinic's tablet. Kept as signed."""

    class Place(models.TextChoices):
        PORTAL = "portal", "In the portal"
        TABLET = "tablet", "On the clinic's tablet"

    patient = models.ForeignKey(
        "people.Patient", on_delete=models.PROTECT, related_name="consent_signatures"
    )
    version = models.ForeignKey(ConsentVersion, on_delete=models.PROTECT, related_name="signatures")
    signed_name = models.CharField(max_length=200)
    signature_png = models.BinaryField(editable=False)
    signed_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    place = models.CharField(max_length=10, choices=Place.choices)
    # The account that sent it: the patient's own in the portal, the staff member's who handed
    # over the tablet.
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ConsentSignatureQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [models.Index(fields=["patient", "version"])]

    def __str__(self) -> str:
        return f"Signature {self.pk} under {self.version}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("A signature is kept as signed.")
        super().save(*args, **kwargs)


class PhotoConsentQuerySet(models.QuerySet):
    def for_patient(self, patient) -> PhotoConsentQuerySet:
        return self.filter(patient=patient)

    def latest_first(self) -> PhotoConsentQuerySet:
        return self.order_by("-recorded_at", "-id")


class PhotoConsent(models.Model):
    """A patient's standing photo consent as decided at one moment: given with a signed
    consent form, withdrawn in the portal, or changed by staff on the patient's word. The
    latest record stands; a change is a new dated record, never an edit. New photos take it as
    their default; a purpose withdrawn is withdrawn from the patient's existing photos too."""

    class Source(models.TextChoices):
        SIGNED = "signed", "Signed with a consent form"
        PORTAL = "portal", "Changed by the patient in the portal"
        STAFF = "staff", "Changed by staff on the patient's word"

    patient = models.ForeignKey(
        "people.Patient", on_delete=models.PROTECT, related_name="photo_consents"
    )
    clinical = models.BooleanField(default=False)
    portal = models.BooleanField(default=False)
    education = models.BooleanField(default=False)
    marketing = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=Source.choices)
    signature = models.OneToOneField(
        ConsentSignature,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="photo_consent",
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = PhotoConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["patient", "recorded_at"])]

    def __str__(self) -> str:
        return f"Photo consent {self.pk}: {', '.join(self.purposes) or 'none'}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("A photo consent is kept as decided: record a new one.")
        super().save(*args, **kwargs)

    @property
    def purposes(self) -> list[str]:
        return [purpose for purpose in PhotoPurpose.values if getattr(self, purpose)]
