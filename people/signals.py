"""Raise record versions (people/records.py) and the reference version (core/versions.py)
after committed changes.

A patient's own rows raise that patient's record version; bulk updates and deletes of them do
the same through `RecordQuerySet`. The clinic's lists that records show beside those rows
raise the reference version, which every cached record part is keyed on as well.
"""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from core import versions

from .models import Patient
from .records import record_changed


def _patient_of_parent(row, relation: str):
    """From the parent the row was saved with, when it is loaded (a service saving a booking
    with its session); else read, and the parent may be gone already, deleted with its children.
    """
    field = row._meta.get_field(relation)
    if field.is_cached(row):
        return getattr(row, relation).patient_id
    parents = field.related_model.objects.filter(pk=getattr(row, field.attname))
    return parents.values_list("patient_id", flat=True).first()


def _record_models():
    from photos.models import Comparison, Derivative, Photo
    from scheduling.models import Booking
    from treatments.models import (
        HistoryEntry,
        PreSessionCheck,
        Screening,
        ScreeningFinding,
        Session,
        TreatmentPlan,
    )

    # model -> how to find the patient of one of its rows
    return {
        Patient: lambda row: row.pk,
        TreatmentPlan: lambda row: row.patient_id,
        Session: lambda row: row.patient_id,
        HistoryEntry: lambda row: row.patient_id,
        PreSessionCheck: lambda row: row.patient_id,
        Screening: lambda row: row.patient_id,
        ScreeningFinding: lambda row: _patient_of_parent(row, "screening"),
        Photo: lambda row: row.patient_id,
        Derivative: lambda row: _patient_of_parent(row, "photo"),
        Comparison: lambda row: row.patient_id,
        Booking: lambda row: _patient_of_parent(row, "session"),
    }


def _reference_models():
    from scheduling.models import CrossModalityGap, Device, ModalityRequirement, Practitioner, Room
    from treatments.models import (
        AftercareRule,
        BodyArea,
        DepthLevel,
        Factor,
        Indication,
        Modality,
        ModalityIndication,
        ScreeningRule,
    )

    return (
        Modality,
        DepthLevel,
        BodyArea,
        Indication,
        ModalityIndication,
        Factor,
        ScreeningRule,
        AftercareRule,
        Practitioner,
        Room,
        Device,
        ModalityRequirement,
        CrossModalityGap,
    )


def connect() -> None:
    for model, patient_of in _record_models().items():

        def changed(sender, instance, _patient_of=patient_of, **kwargs) -> None:
            record_changed(_patient_of(instance))

        name = model.__name__
        post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"record-{name}-save")
        post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"record-{name}-del")

    from treatments.models import Session

    def areas_changed(sender, instance, action, **kwargs) -> None:
        if action.startswith("post_") and isinstance(instance, Session):
            record_changed(instance.patient_id)

    m2m_changed.connect(
        areas_changed, sender=Session.areas.through, weak=False, dispatch_uid="record-areas"
    )
    # Staff names are shown on records too.
    versions.raise_on_change(versions.REFERENCE, _reference_models(), users=True)
