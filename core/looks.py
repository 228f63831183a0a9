"""Declaring which patients' data an answer shows, so that the look is audited.

A view or API action calls `looked_at(request, obj)` (or with several objects, or a patient
id) for what its answer shows; the audit middleware (audit.middleware.AuditMiddleware) writes
the events once the answer is known to be served, one per patient shown. The DRF mixin
`core.api.RecordsLooks` does it for every object an API viewset loads or lists, and the access
matrix test (tests/resilience/test_access_matrix.py) fails for any URL that shows a patient's
data without an event, so a view that forgets is caught. core sits below audit, so this only
notes the look on the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Look:
    objects: tuple
    patient_id: int | None
    action: str
    detail: str
    listed: bool = False  # a list: one event per patient on it, none when it is empty
    actor: object = None  # who looked, when not the signed-in user (a calendar feed's owner)


def looked_at(
    request,
    *objects,
    patient: object = None,
    many: Iterable | None = None,
    action: str = "view",
    detail: str = "",
    actor: object = None,
) -> None:
    """Notes that the answer to `request` shows `objects` (model instances: a Patient or an
    object with a `patient_id`), the objects in `many` (a list: each patient shown gets an
    event), or `patient` (a Patient or its id) when the answer shows no one object. `actor` is
    who looked when the request is not signed in but keyed (a practitioner's calendar feed)."""
    request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    patient_id = getattr(patient, "pk", patient)
    looks = request.__dict__.setdefault("patient_looks", [])
    if objects or many is None:
        looks.append(Look(objects, patient_id, action, detail, actor=actor))
    if many is not None:
        looks.append(Look(tuple(many), None, action, detail, listed=True, actor=actor))


def looks_of(request) -> list[Look]:
    return getattr(request, "patient_looks", [])
