"""A signed consent form as a PDF: the exact text signed, the photo consent ticked, the name
typed, the time and the drawn signature, with a real text layer (reportlab), on A4.

Drawn from the signature's row each time: the version it points at never changes, so the same
signature always gives the same words.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer

from .models import ConsentSignature, PhotoConsent, PhotoPurpose

SIGNATURE_WIDTH = 70 * mm


def _photo_lines(signature: ConsentSignature) -> list[str]:
    try:
        given = set(signature.photo_consent.purposes)
    except PhotoConsent.DoesNotExist:
        return []
    return [
        f"[{'x' if purpose.value in given else ' '}] {purpose.label}" for purpose in PhotoPurpose
    ]


def consent_pdf(signature: ConsentSignature) -> bytes:
    version = signature.version
    styles = getSampleStyleSheet()
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=version.title,
        author=settings.CLINIC_NAME,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )
    signed_at = timezone.localtime(signature.signed_at)
    published = timezone.localtime(version.published_at)
    story = [
        Paragraph(escape(settings.CLINIC_NAME), styles["Normal"]),
        Paragraph(escape(version.title), styles["Title"]),
        Paragraph(
            escape(f"Version {version.number}, published {published:%d %B %Y}"),
            styles["Italic"],
        ),
        Spacer(1, 4 * mm),
    ]
    story += [Paragraph(escape(text), styles["BodyText"]) for text in version.paragraphs]
    photo_lines = _photo_lines(signature)
    if photo_lines:
        story += [
            Spacer(1, 4 * mm),
            Paragraph("Photos: I consent to their use for", styles["Heading4"]),
            *[Paragraph(escape(line), styles["Code"]) for line in photo_lines],
        ]
    story += [
        Spacer(1, 6 * mm),
        Paragraph(escape(f"Name: {signature.signed_name}"), styles["BodyText"]),
        Paragraph(
            escape(f"Signed: {signed_at:%d %B %Y at %H:%M} ({signed_at:%Z})"), styles["BodyText"]
        ),
        Paragraph(escape(signature.get_place_display()), styles["BodyText"]),
    ]
    png = bytes(signature.signature_png)
    if png:
        drawn = Image(io.BytesIO(png))
        ratio = drawn.imageHeight / drawn.imageWidth if drawn.imageWidth else 0.3
        drawn.drawWidth, drawn.drawHeight = SIGNATURE_WIDTH, SIGNATURE_WIDTH * ratio
        drawn.hAlign = "LEFT"
        story += [Paragraph("Signature:", styles["BodyText"]), drawn]
    document.build(story)
    return out.getvalue()


def signed_forms_for_export(patient):
    """The patient's signed consent forms as PDFs, for their data export (people.export)."""
    from people.export import ExportFile

    signatures = (
        ConsentSignature.objects.for_patient(patient)
        .select_related("version__form__modality", "photo_consent")
        .order_by("signed_at", "id")
    )
    for signature in signatures:
        kind = signature.version.form.modality.kind.replace("_", "-")
        yield ExportFile(
            f"consents/consent-{kind}-{signature.signed_at:%Y%m%d}-{signature.pk}.pdf",
            about=f"{signature.version.title}, signed {signature.signed_at:%d %B %Y}",
            content=consent_pdf(signature),
        )
