"""Before/after photos, their derivatives (thumbnails) and comparisons (pairs and series).

The original upload is the clinical record: stored once, unchanged, under a key the server
makes up. Every image goes out through a view that checks permission and writes an audit
record; nothing under media is public.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Bump to make `manage.py photos_regenerate` remake every derivative / sheet.
# 2: no COM segment (the upload's comment was copied); 3: Lanczos; 4: Lanczos from libjpeg-turbo's
# n/8 DCT scale (5/8 for 12 MP, 3/8 for 24 MP) instead of the whole or the 1/2 decode.
DERIVATIVE_VERSION = 4
SHEET_VERSION = 4  # 2: photos dated by their session, not the camera; 3: "after" aligned;
# 4: the PDF is an A4/Letter page with text
# Bump to score photos again / align pairs again (`photos_regenerate` sends the work).
QUALITY_VERSION = 1
ALIGNMENT_VERSION = 1
# Bump to measure colour again (white balance and redness) / to redraw every course sheet.
COLOUR_VERSION = 1
COURSE_SHEET_VERSION = 1


class View(models.TextChoices):
    FRONTAL = "frontal", "Frontal"
    LEFT_45 = "left_45", "Left 45°"
    RIGHT_45 = "right_45", "Right 45°"
    LEFT_PROFILE = "left_profile", "Left profile"
    RIGHT_PROFILE = "right_profile", "Right profile"
    AREA = "area", "Area-specific"


class Phase(models.TextChoices):
    BEFORE = "before", "Before"
    AFTER = "after", "After"


class Purpose(models.TextChoices):
    CLINICAL = "clinical", "Clinical record"
    PORTAL = "portal", "Shown in the portal"
    EDUCATION = "education", "Education"
    MARKETING = "marketing", "Marketing"


# The standard views expected for an area (by BodyArea slug); other areas: frontal only.
EXPECTED_VIEWS: dict[str, tuple[str, ...]] = {
    "face": (View.FRONTAL, View.LEFT_45, View.RIGHT_45, View.LEFT_PROFILE, View.RIGHT_PROFILE),
    "neck": (View.FRONTAL, View.LEFT_PROFILE, View.RIGHT_PROFILE),
    "decollete": (View.FRONTAL,),
    "back": (View.AREA,),
}
DEFAULT_EXPECTED_VIEWS: tuple[str, ...] = (View.FRONTAL, View.AREA)


def expected_views(body_area) -> tuple[str, ...]:
    return EXPECTED_VIEWS.get(getattr(body_area, "slug", ""), DEFAULT_EXPECTED_VIEWS)


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Being made"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


def _consent_field(purpose: Purpose, default: bool) -> models.BooleanField:
    return models.BooleanField(default=default, verbose_name=f"consent: {purpose.label.lower()}")


class PhotoQuerySet(models.QuerySet):
    def for_patient(self, patient) -> PhotoQuerySet:
        return self.filter(patient=patient)

    def consented_for(self, purpose: str) -> PhotoQuerySet:
        return self.filter(**{f"consent_{purpose}": True})

    def in_order(self) -> PhotoQuerySet:
        return self.order_by("session__starts_at", "session__number", "phase", "id")


class Photo(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        "treatments.Session", on_delete=models.PROTECT, related_name="photos"
    )
    patient = models.ForeignKey("people.Patient", on_delete=models.PROTECT, related_name="photos")
    body_area = models.ForeignKey(
        "treatments.BodyArea", on_delete=models.PROTECT, related_name="photos"
    )
    view = models.CharField(max_length=20, choices=View.choices)
    view_label = models.CharField(
        max_length=60, blank=True, help_text="For an area-specific view: which one."
    )
    phase = models.CharField(max_length=10, choices=Phase.choices)
    # The original, unchanged. The key is made by the server, never the uploaded file's name.
    storage_key = models.CharField(max_length=200, unique=True, editable=False)
    content_type = models.CharField(max_length=40)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    orientation = models.PositiveSmallIntegerField(default=1)
    captured_at = models.DateTimeField(null=True, blank=True, help_text="From EXIF when present.")
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    consent_clinical = _consent_field(Purpose.CLINICAL, True)
    consent_portal = _consent_field(Purpose.PORTAL, False)
    consent_education = _consent_field(Purpose.EDUCATION, False)
    consent_marketing = _consent_field(Purpose.MARKETING, False)
    # Several photos of one view in one session (a retake, a second try): the one comparisons,
    # the baseline and the capture guide use. The app picks the first good one; a clinician's
    # pick (reference_chosen_by) is kept as chosen.
    is_reference = models.BooleanField(
        default=False, help_text="The photo of its view and phase in its session to compare."
    )
    reference_chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty while the reference is the app's own pick.",
    )
    # Regions a clinician marked on the photo, as fractions of the upright photo
    # ({"x", "y", "w", "h"}, photos.colour.Region): a neutral patch to white-balance by when
    # no grey card is found, and the area whose redness is measured.
    neutral_patch = models.JSONField(null=True, blank=True)
    redness_region = models.JSONField(null=True, blank=True)

    objects = PhotoQuerySet.as_manager()

    class Meta:
        ordering = ["session__number", "body_area", "view", "phase", "id"]
        indexes = [models.Index(fields=["patient", "body_area", "view", "phase"])]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "body_area", "view", "view_label", "phase"],
                condition=Q(is_reference=True),
                name="one_reference_per_view",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_phase_display()} · {self.body_area_id} · {self.get_view_display()}"

    @property
    def view_name(self) -> str:
        label = self.get_view_display()
        return f"{label}: {self.view_label}" if self.view_label else label

    def consented(self, purpose: str) -> bool:
        return bool(getattr(self, f"consent_{purpose}"))

    @property
    def purposes(self) -> list[str]:
        return [p.value for p in Purpose if self.consented(p.value)]

    @property
    def colour_or_none(self) -> PhotoColour | None:
        """The colour measure, None until the worker has made it."""
        try:
            return self.colour
        except ObjectDoesNotExist:
            return None

    @property
    def quality_or_none(self) -> PhotoQuality | None:
        """The capture-quality score, None until the worker has made it (no query when the
        queryset selected `quality`)."""
        try:
            return self.quality
        except ObjectDoesNotExist:
            return None


class Derivative(models.Model):
    """One resized, upright, sRGB, metadata-free JPEG of a photo."""

    class Size(models.IntegerChoices):
        LARGE = 2048, "Large"
        SCREEN = 1024, "Screen"
        GRID = 320, "Grid"

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="derivatives")
    size = models.PositiveSmallIntegerField(choices=Size.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=300, blank=True)
    storage_key = models.CharField(max_length=200, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    version = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The Celery task id holding the claim: the same on redelivery and on retry, so the task
    # coming back knows the rows it finds running are its own dead attempt's.
    claimed_by = models.CharField(max_length=64, blank=True)
    # Claims made since it was last queued: a photo that kills every worker that tries it
    # (out of memory) fails after a few instead of killing workers for ever.
    attempts = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["photo", "-size"]
        constraints = [
            models.UniqueConstraint(fields=["photo", "size"], name="unique_derivative_size")
        ]

    def __str__(self) -> str:
        return f"{self.size}px of photo {self.photo_id} ({self.status})"


class ComparisonQuerySet(models.QuerySet):
    def for_patient(self, patient) -> ComparisonQuerySet:
        return self.filter(patient=patient)

    def visible_for(self, purpose: str) -> ComparisonQuerySet:
        """Only comparisons whose every photo is consented for the purpose."""
        field = f"consent_{purpose}"
        return self.exclude(
            Q(**{f"before__{field}": False})
            | Q(**{f"after__{field}": False})
            | Q(**{f"middle__{field}": False})
        )

    def released(self) -> ComparisonQuerySet:
        return self.filter(released_to_portal=True).visible_for(Purpose.PORTAL)


class Comparison(models.Model):
    """Before and after of one area and view (a pair), or baseline, mid-course, latest."""

    class Kind(models.TextChoices):
        PAIR = "pair", "Before and after"
        SERIES = "series", "Series"

    patient = models.ForeignKey(
        "people.Patient", on_delete=models.PROTECT, related_name="photo_comparisons"
    )
    plan = models.ForeignKey(
        "treatments.TreatmentPlan", on_delete=models.CASCADE, related_name="photo_comparisons"
    )
    body_area = models.ForeignKey("treatments.BodyArea", on_delete=models.PROTECT, related_name="+")
    view = models.CharField(max_length=20, choices=View.choices)
    view_label = models.CharField(max_length=60, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PAIR)
    before = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    middle = models.ForeignKey(
        Photo, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    after = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty while the pairing is the app's own proposal.",
    )
    released_to_portal = models.BooleanField(default=False)
    sheet_status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    sheet_reason = models.CharField(max_length=300, blank=True)
    sheet_jpeg_key = models.CharField(max_length=200, blank=True)
    sheet_pdf_key = models.CharField(max_length=200, blank=True)
    sheet_version = models.PositiveSmallIntegerField(default=0)
    sheet_claimed_at = models.DateTimeField(null=True, blank=True)
    sheet_claimed_by = models.CharField(max_length=64, blank=True)  # as Derivative.claimed_by
    sheet_attempts = models.PositiveSmallIntegerField(default=0)  # as Derivative.attempts
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ComparisonQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "body_area", "view", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "body_area", "view", "view_label", "kind"],
                name="unique_comparison_per_view",
            )
        ]
        permissions = [("release_comparison", "Can release a comparison to the patient portal")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_view_display()} · plan {self.plan_id}"

    @property
    def photo_ids(self) -> list[int]:
        return [i for i in (self.before_id, self.middle_id, self.after_id) if i]

    @property
    def is_automatic(self) -> bool:
        return self.chosen_by_id is None


class Alignment(models.Model):
    """The similarity transform taking `moving`'s normalised coordinates onto `reference`'s
    (photos.science: pixel / long side), as the worker estimated it, or why it could not, or
    as a clinician nudged it by hand.

    One per ordered pair of photos and source: a comparison's "after" onto its "before", a
    photo onto its baseline for the framing score. A hand-made one is drawn in the sheets in
    place of the worker's, which is kept. Originals and derivatives are never changed by it.
    """

    class Source(models.TextChoices):
        WORKER = "worker", "Estimated by the worker"
        MANUAL = "manual", "Nudged by hand"

    reference = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    moving = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    ok = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it failed.")
    scale = models.FloatField(null=True, blank=True)
    rotation_degrees = models.FloatField(null=True, blank=True)
    tx = models.FloatField(null=True, blank=True)
    ty = models.FloatField(null=True, blank=True)
    inliers = models.PositiveIntegerField(default=0, help_text="Matched details that agree.")
    matches = models.PositiveIntegerField(default=0, help_text="Matched details in all.")
    residual_px = models.FloatField(
        null=True, blank=True, help_text="RMS distance of the agreeing details after the fit."
    )
    analysed_side = models.PositiveIntegerField(default=0, help_text="Long side measured at.")
    version = models.PositiveSmallIntegerField(default=0)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WORKER)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who nudged it by hand; empty for the worker's.",
    )
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference", "moving", "source"], name="unique_alignment_pair_source"
            )
        ]

    def __str__(self) -> str:
        state = "aligned" if self.ok else "failed"
        return f"photo {self.moving_id} onto {self.reference_id} ({state}, {self.source})"

    @property
    def is_manual(self) -> bool:
        return self.source == self.Source.MANUAL

    @property
    def summary(self) -> str:
        if not self.ok:
            return f"Not aligned: {self.reason or 'no match'}; shown as taken."
        if self.is_manual:
            return (
                f"Aligned by hand: scale {self.scale:.2f}, turned {self.rotation_degrees:+.1f}°, "
                f"moved {self.tx:+.3f}, {self.ty:+.3f}"
            )
        return (
            f"Aligned: scale {self.scale:.2f}, turned {self.rotation_degrees:+.1f}°, "
            f"{self.inliers} details agree"
        )


class PhotoQuality(models.Model):
    """The capture-quality score the worker gives a photo once its derivatives are made.

    `findings` holds one entry per measure (sharpness, exposure, colour, framing): its verdict
    ("good", "retake" or "unknown"), what was measured and what to do about it. `retake` is
    set when any verdict is "retake" under the clinic's thresholds (PHOTOS_QUALITY_* settings).
    """

    photo = models.OneToOneField(Photo, on_delete=models.CASCADE, related_name="quality")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    reason = models.CharField(max_length=300, blank=True)
    sharpness = models.FloatField(null=True, blank=True, help_text="Laplacian variance, 1024 px")
    isotropy = models.FloatField(
        null=True, blank=True, help_text="Detail's evenness over directions (shake: low)"
    )
    clipped_shadows = models.FloatField(null=True, blank=True)
    clipped_highlights = models.FloatField(null=True, blank=True)
    cast_a = models.FloatField(null=True, blank=True, help_text="Mean a* of neutral areas")
    cast_b = models.FloatField(null=True, blank=True, help_text="Mean b* of neutral areas")
    baseline = models.ForeignKey(
        Photo, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    framing = models.ForeignKey(
        Alignment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    findings = models.JSONField(default=list, blank=True)
    retake = models.BooleanField(default=False)
    version = models.PositiveSmallIntegerField(default=0)
    scored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "photo qualities"

    def __str__(self) -> str:
        return f"quality of photo {self.photo_id}: {'retake' if self.retake else 'good'}"

    @property
    def problems(self) -> list[dict]:
        return [f for f in self.findings if f.get("verdict") == "retake"]


class PhotoColour(models.Model):
    """The photo's colour as the worker measured it from its screen derivative: the white
    balance (from a grey card it found, else the clinician's neutral patch, else none) and the
    redness after it (mean CIELAB a*, photos.colour.redness) with the method and the region.
    The original and the derivatives keep their colours; sheets apply `gains` when drawn."""

    class Balance(models.TextChoices):
        GREY_CARD = "grey_card", "Grey card found in the photo"
        CLINICIAN = "clinician", "Neutral patch picked by a clinician"
        NONE = "none", "As taken (no neutral reference)"

    photo = models.OneToOneField(Photo, on_delete=models.CASCADE, related_name="colour")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    reason = models.CharField(max_length=300, blank=True)
    balance = models.CharField(max_length=12, choices=Balance.choices, default=Balance.NONE)
    neutral_region = models.JSONField(null=True, blank=True)
    gains = models.JSONField(null=True, blank=True, help_text="Linear-light R, G, B gains")
    redness = models.FloatField(null=True, blank=True, help_text="Mean CIELAB a*")
    redness_method = models.CharField(max_length=120, blank=True)
    redness_region = models.JSONField(null=True, blank=True)
    version = models.PositiveSmallIntegerField(default=0)
    measured_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"colour of photo {self.photo_id}: a* {self.redness}"

    @property
    def balance_summary(self) -> str:
        if self.balance == self.Balance.NONE:
            return "Colour as taken: no grey card found and no neutral patch picked."
        return f"White balanced from the {self.get_balance_display().lower()}."


class CourseSheet(models.Model):
    """A sheet of a whole course for one area and view: the baseline and one photo of each
    session, aligned onto the baseline and white balanced, with the redness trend. Made for
    one purpose: only photos consented for it are drawn, and for education and marketing
    the eyes are covered (PHOTOS_PUBLICATION_COVER). `photo_ids` are the photos drawn;
    `inputs` fingerprints everything drawn, so a change of any of it redraws the sheet."""

    class Paper(models.TextChoices):
        A4 = "A4", "A4"
        LETTER = "Letter", "Letter"

    plan = models.ForeignKey(
        "treatments.TreatmentPlan", on_delete=models.CASCADE, related_name="course_sheets"
    )
    body_area = models.ForeignKey("treatments.BodyArea", on_delete=models.PROTECT, related_name="+")
    view = models.CharField(max_length=20, choices=View.choices)
    view_label = models.CharField(max_length=60, blank=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.CLINICAL)
    paper = models.CharField(max_length=6, choices=Paper.choices, default=Paper.A4)
    photo_ids = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True, help_text="What was covered, and why")
    inputs = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The same work columns as Comparison's sheet (services.SHEET_WORK claims either).
    sheet_status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    sheet_reason = models.CharField(max_length=300, blank=True)
    sheet_jpeg_key = models.CharField(max_length=200, blank=True)
    sheet_pdf_key = models.CharField(max_length=200, blank=True)
    sheet_version = models.PositiveSmallIntegerField(default=0)
    sheet_claimed_at = models.DateTimeField(null=True, blank=True)
    sheet_claimed_by = models.CharField(max_length=64, blank=True)
    sheet_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    made_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "body_area", "view", "purpose", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "body_area", "view", "view_label", "purpose"],
                name="unique_course_sheet_per_view_and_purpose",
            )
        ]

    def __str__(self) -> str:
        return f"course sheet · {self.get_view_display()} · {self.purpose} · plan {self.plan_id}"

    @property
    def patient_id(self) -> int:
        """Whose photos these are (for the audit log): the course's patient."""
        return self.plan.patient_id

    @property
    def view_name(self) -> str:
        label = self.get_view_display()
        return f"{label}: {self.view_label}" if self.view_label else label
