"""Demo photos: synthetic before/after pictures of Alice's face, if her course exists.

The treatments demo makes her course; without any session this is a no-op. Safe to load twice.
"""

from __future__ import annotations

import io
import random

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFilter

from people.models import Patient
from treatments.models import Session

from . import services
from .models import Photo

VIEWS = ("frontal", "left_45", "right_45")


def synthetic_face(*, seed: int, spots: int, view: str, taken=None) -> bytes:
    """A face-like oval on a studio background, with `spots` blemishes; EXIF capture time."""
    rng = random.Random(seed)
    width, height = 1600, 1200
    image = Image.new("RGB", (width, height), (214, 220, 228))
    draw = ImageDraw.Draw(image)
    shift = {"frontal": 0, "left_45": -160, "right_45": 160}[view]
    box = (width // 2 - 330 + shift, 140, width // 2 + 330 + shift, 1100)
    draw.ellipse(box, fill=(226, 184, 160))
    for _ in range(spots):
        x = rng.randint(box[0] + 120, box[2] - 120)
        y = rng.randint(box[1] + 200, box[3] - 160)
        r = rng.randint(6, 18)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(196, 120, 110))
    image = image.filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    image = Image.blend(image, noise, 0.06)
    exif = Image.Exif()
    if taken is not None:  # the session's time, as the camera would have recorded it
        exif.get_ifd(0x8769)[0x9003] = timezone.localtime(taken).strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def load() -> None:
    patient = Patient.objects.filter(user__username="alice").first()
    if patient is None or Photo.objects.filter(patient=patient).exists():
        return
    sessions = list(
        Session.objects.filter(patient=patient)
        .select_related("plan__body_area")
        .order_by("plan", "number")
    )
    if not sessions:
        return
    clinician = get_user_model().objects.filter(username="clinician").first()
    if clinician is None:
        return
    plan = sessions[0].plan
    course = [s for s in sessions if s.plan_id == plan.pk]
    first, latest = course[0], course[min(len(course) - 1, 2)]
    for index, view in enumerate(VIEWS):
        for session, phase, spots in ((first, "before", 40), (latest, "after", 8)):
            data = synthetic_face(
                seed=index * 10 + session.number, spots=spots, view=view, taken=session.starts_at
            )
            services.photo_upload(
                session=session,
                body_area=plan.body_area,
                view=view,
                phase=phase,
                purposes=("clinical", "portal"),
                file=SimpleUploadedFile(f"demo-{view}-{phase}.jpg", data, "image/jpeg"),
                by=clinician,
            )
