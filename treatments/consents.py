"""Consent: publishing a modality's consent text, signing it, and the standing photo consent.

A course of a treatment is recorded only once its patient has signed the consent form of its
modality (treatments/gate.py asks `consent_signed`). A signature points at the exact version
signed; editing the text publishes a new version and keeps the old ones.

The photo consent signed with the form is the patient's standing photo consent; each change
(withdrawn in the portal, changed by staff on the patient's word) is a new dated record. A
purpose withdrawn is withdrawn from the patient's existing photos as well: the photos app
listens to `photo_consent_withdrawn`, which this module (below photos in the layers) sends in
the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.dispatch import Signal
from PIL import Image, UnidentifiedImageError

from audit.ip import client_ip
from audit.services import Action, audit_log

from .models import (
    ConsentForm,
    ConsentSignature,
    ConsentVersion,
    Modality,
    PhotoConsent,
    PhotoPurpose,
)

# Sent inside the transaction that records a photo consent withdrawing purposes, with
# patient_id, purposes (the withdrawn ones), by and request.
photo_consent_withdrawn = Signal()

# A drawn signature: a small PNG. Larger is not a signature (or a phone sent its whole screen
# at a high pixel ratio): refused before decoding.
SIGNATURE_MAX_BYTES = 300_000
SIGNATURE_MAX_SIDE = 2400
NOT_SIGNED = "Consent not signed"


def consent_required(modality: Modality) -> bool:
    """Every treatment needs its signed consent; a consultation does not."""
    return modality.is_treatment


def current_version(modality: Modality) -> ConsentVersion | None:
    return (
        ConsentVersion.objects.filter(form__modality=modality)
        .select_related("form__modality")
        .order_by("-number")
        .first()
    )


def consent_signed(patient_id: int, modality: Modality) -> bool:
    if not consent_required(modality):
        return True
    return ConsentSignature.objects.filter(
        patient_id=patient_id, version__form__modality_id=modality.pk
    ).exists()


def signed_pairs(patient_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(patient id, modality id) of every consent the patients signed: one query, for lists."""
    return set(
        ConsentSignature.objects.filter(patient_id__in=set(patient_ids))
        .values_list("patient_id", "version__form__modality_id")
        .distinct()
    )


def not_signed_reason(modality: Modality) -> str:
    return (
        f"{NOT_SIGNED}: the patient signs the {modality.name.lower()} consent form (in the "
        "portal or on the clinic's tablet) before the course starts."
    )


def standing_photo_consent(patient) -> PhotoConsent | None:
    """The patient's photo consent as it stands: the latest record, or None if never given."""
    return PhotoConsent.objects.for_patient(patient).latest_first().first()


def standing_purposes(patient, *, default: Iterable[str] = (PhotoPurpose.CLINICAL,)) -> list[str]:
    """What new photos of the patient are consented for: the standing consent, else `default`
    (a patient who never signed: the clinical record only, as before consent forms)."""
    standing = standing_photo_consent(patient)
    return standing.purposes if standing is not None else list(default)


def _purposes(purposes: Iterable[str]) -> set[str]:
    chosen = set(purposes)
    if unknown := chosen - set(PhotoPurpose.values):
        raise ValidationError(
            f"Unknown photo consent purpose: {', '.join(sorted(unknown))}. Choose from "
            f"{', '.join(PhotoPurpose.values)}."
        )
    return chosen


# --- publishing ---------------------------------------------------------------------------


def consent_publish(
    *, modality: Modality, title: str, text: str, by=None, request=None
) -> ConsentVersion:
    """Publishes `title` and `text` as the modality's consent text: a new version when either
    differs from the current one (the current one, unchanged, otherwise)."""
    title, text = title.strip(), text.strip().replace("\r\n", "\n")
    if not title or not text:
        raise ValidationError("A consent text needs a title and a text.")
    with transaction.atomic():
        form, _ = ConsentForm.objects.select_for_update().get_or_create(modality=modality)
        latest = form.versions.order_by("-number").first()
        if latest is not None and (latest.title, latest.text) == (title, text):
            return latest
        number = (form.versions.aggregate(top=Max("number"))["top"] or 0) + 1
        version = ConsentVersion(form=form, number=number, title=title, text=text)
        version.published_by = by if getattr(by, "is_authenticated", False) else None
        version.full_clean()
        version.save()
        audit_log(
            actor=by,
            action=Action.CREATE,
            obj=version,
            request=request,
            detail=f"consent text published: {modality.kind} version {number}",
        )
    return version


# --- signing ------------------------------------------------------------------------------


def signature_png_clean(drawn: bytes | str) -> bytes:
    """The drawn signature as a plain PNG: from the canvas's data URL (or PNG bytes), checked
    to be a small PNG with some ink on it, and drawn again without any metadata."""
    if isinstance(drawn, str):
        _, _, encoded = drawn.strip().partition("base64,")
        try:
            drawn = base64.b64decode(encoded or drawn, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError({"signature": "Draw your signature in the box."}) from None
    if not drawn:
        raise ValidationError({"signature": "Draw your signature in the box."})
    if len(drawn) > SIGNATURE_MAX_BYTES:
        raise ValidationError({"signature": "The signature image is too large: draw it again."})
    try:
        with Image.open(io.BytesIO(drawn)) as image:
            if image.format != "PNG":
                raise ValidationError({"signature": "The signature must be a PNG image."})
            if max(image.size) > SIGNATURE_MAX_SIDE:
                raise ValidationError({"signature": "The signature image is too large."})
            image.load()
            ink = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError({"signature": "The signature is not a readable image."}) from None
    # Ink: pixels both visible and not white. A blank canvas (transparent or white) is none.
    alpha = ink.getchannel("A").point(lambda a: 255 if a > 32 else 0)
    dark = ink.convert("L").point(lambda v: 255 if v < 200 else 0)
    inked = Image.composite(dark, Image.new("L", ink.size, 0), alpha)
    if inked.getbbox() is None:
        raise ValidationError({"signature": "Draw your signature in the box."})
    clean = io.BytesIO()
    ink.save(clean, format="PNG", optimize=True)
    return clean.getvalue()


def consent_sign(
    *,
    patient,
    version: ConsentVersion,
    signed_name: str,
    signature: bytes | str,
    purposes: Iterable[str],
    place: str,
    by,
    request=None,
) -> ConsentSignature:
    """The patient signs `version` of a consent form, with the photo consent ticked on it.

    Refused when a newer version was published while the form was open (the patient signs the
    words they read, and those are the current ones)."""
    signed_name = " ".join(signed_name.split())
    errors: dict[str, str] = {}
    if not signed_name:
        errors["signed_name"] = "Type your full name."
    elif len(signed_name) > 200:
        errors["signed_name"] = "Type your name in at most 200 characters."
    try:
        png = signature_png_clean(signature)
    except ValidationError as error:
        errors.update({key: messages[0] for key, messages in error.message_dict.items()})
    chosen = _purposes(purposes)
    if place not in ConsentSignature.Place.values:
        raise ValidationError("Sign in the portal or on the clinic's tablet.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        latest = current_version(version.form.modality)
        if latest is None or latest.pk != version.pk:
            raise ValidationError(
                "The clinic has updated this consent text since you opened it: read the new "
                "version and sign again.",
                code="outdated",
            )
        signed = ConsentSignature(
            patient=patient,
            version=version,
            signed_name=signed_name,
            signature_png=png,
            ip_address=client_ip(request),
            place=place,
            signed_by=by,
        )
        signed.save()
        audit_log(
            actor=by,
            action=Action.CREATE,
            obj=signed,
            request=request,
            detail=f"consent signed: {version.form.modality.kind} version {version.number} "
            f"({place}); photos: {','.join(sorted(chosen)) or '-'}",
        )
        photo_consent_record(
            patient=patient,
            purposes=chosen,
            source=PhotoConsent.Source.SIGNED,
            signature=signed,
            by=by,
            request=request,
        )
    return signed


# --- the standing photo consent -------------------------------------------------------------


def photo_consent_record(
    *,
    patient,
    purposes: Iterable[str],
    source: str,
    by,
    request=None,
    signature: ConsentSignature | None = None,
) -> PhotoConsent:
    """Records the patient's photo consent as it now stands (a new dated record). Purposes the
    previous record gave and this one does not are withdrawn from the existing photos too."""
    chosen = _purposes(purposes)
    if source not in PhotoConsent.Source.values:
        raise ValidationError("Unknown source of a photo consent.")
    with transaction.atomic():
        # One change at a time per patient: the previous record read is the one replaced.
        type(patient).objects.select_for_update().filter(pk=patient.pk).exists()
        before = standing_photo_consent(patient)
        record = PhotoConsent(
            patient=patient,
            source=source,
            signature=signature,
            recorded_by=by if getattr(by, "is_authenticated", False) else None,
            ip_address=client_ip(request),
            **{purpose: purpose in chosen for purpose in PhotoPurpose.values},
        )
        record.save()
        previous = set(before.purposes) if before is not None else set()
        withdrawn = sorted(previous - chosen)
        given = sorted(chosen - previous)
        audit_log(
            actor=by,
            action=Action.CHANGE if before is not None else Action.CREATE,
            obj=record,
            request=request,
            detail=f"photo consent ({source}) given: {','.join(given) or '-'}; "
            f"withdrawn: {','.join(withdrawn) or '-'}",
        )
        if withdrawn:
            photo_consent_withdrawn.send(
                sender=PhotoConsent,
                patient_id=patient.pk,
                purposes=withdrawn,
                by=by,
                request=request,
            )
    return record


# --- reads for the pages --------------------------------------------------------------------


@dataclass(frozen=True)
class FormRow:
    """A consent form as one patient stands with it: its current version and their latest
    signature of any version, if any."""

    modality: Modality
    version: ConsentVersion
    signature: ConsentSignature | None

    @property
    def signed_current(self) -> bool:
        return self.signature is not None and self.signature.version_id == self.version.pk


def forms_for(patient) -> list[FormRow]:
    """Every treatment's consent form with the patient's latest signature: two queries."""
    current: dict[int, ConsentVersion] = {}
    versions = ConsentVersion.objects.select_related("form__modality").order_by(
        "form__modality__name", "-number"
    )
    for version in versions:
        if version.form.modality.is_treatment:
            current.setdefault(version.form.modality_id, version)
    latest: dict[int, ConsentSignature] = {}
    signatures = (
        ConsentSignature.objects.for_patient(patient)
        .select_related("version__form")
        .defer("signature_png")
        .order_by("-signed_at", "-id")
    )
    for signature in signatures:
        latest.setdefault(signature.version.form.modality_id, signature)
    return [
        FormRow(version.form.modality, version, latest.get(modality_id))
        for modality_id, version in current.items()
    ]


# --- erasure -------------------------------------------------------------------------------


def consents_erase(patient) -> list[str]:
    """A patient's part of an erasure (people.erasure) held here: the signatures stay as the
    fact that a version was signed, without the typed name, the drawing or the address; the
    photo consents without the address; and the free text of the questionnaire and of the
    checks before a session is emptied (they are CharFields, which erasure does not empty
    by itself). No files."""
    from .models import HistoryEntry, Intake, PreSessionCheck

    ConsentSignature.objects.filter(patient=patient).update(
        signed_name="", signature_png=b"", ip_address=None
    )
    PhotoConsent.objects.filter(patient=patient).update(ip_address=None)
    Intake.objects.filter(patient=patient).update(goals_note="")
    PreSessionCheck.objects.filter(patient=patient).update(notes="")
    HistoryEntry.objects.filter(patient=patient).update(notes="", superseded_note="")
    return []
