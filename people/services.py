"""Writes to people's records. Each validates fully and saves inside one transaction."""

from __future__ import annotations

from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from audit.services import Action, audit_log, audit_looks, audited_update, recorded
from core.looks import Look
from core.tasks import task_send_on_commit

from .models import Patient
from .roles import Role, assign_role
from .tasks import send_patient_invite

PATIENT_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "phone",
    "sms_reminders",
    "notes",
)
# What tells one person from another: a change to one of these is checked for duplicates.
IDENTIFYING_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone")
DUPLICATES_SHOWN = 10


class LikelyDuplicate(ValidationError):
    """The record may be someone already on file: nothing was saved. `candidates` are those
    records; the caller shows them and saves only once told it is a different person."""

    def __init__(self, candidates: list[Patient]):
        self.candidates = candidates
        many = len(candidates) > 1
        super().__init__(
            f"{'These records look' if many else 'This record looks'} like the same person. "
            "Open the existing record instead, or confirm that this is a different person.",
            code="duplicate",
        )


def duplicates_shown(*, candidates: list[Patient], by, request=None) -> None:
    """Records the look at the likely duplicates shown. The answer that shows them refuses
    the save (400, 409), and the audit middleware records looks only for answers served."""
    looks = [Look(tuple(candidates), None, Action.VIEW, "likely duplicates", listed=True)]
    audit_looks(actor=by, looks=looks, request=request)


def patient_duplicates_check(
    *,
    first_name: str,
    last_name: str,
    date_of_birth,
    email: str = "",
    phone: str = "",
    other_than: Patient | None = None,
) -> None:
    """Raises LikelyDuplicate when records on file share the name and date of birth, the
    phone number or the email address."""
    candidates = Patient.objects.likely_duplicates(
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        phone=phone,
        email=email,
    )
    if other_than is not None:
        candidates = candidates.exclude(pk=other_than.pk)
    if found := list(candidates[:DUPLICATES_SHOWN]):
        raise LikelyDuplicate(found)


@transaction.atomic
def patient_create(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    email: str = "",
    phone: str = "",
    sms_reminders: bool = False,
    notes: str = "",
    different_person: bool = False,
    by=None,
) -> Patient:
    """A new record, unless it looks like someone on file (LikelyDuplicate) and the caller
    has not confirmed `different_person`."""
    patient = Patient(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        email=email.strip(),
        phone=phone.strip(),
        sms_reminders=sms_reminders,
        notes=notes,
    )
    patient.full_clean()
    if not different_person:
        patient_duplicates_check(**{name: getattr(patient, name) for name in IDENTIFYING_FIELDS})
    patient.save()
    audit_log(actor=by, action=Action.CREATE, obj=patient)
    return patient


def patient_update(
    *, patient: Patient, by=None, request=None, different_person: bool = False, **changes
) -> Patient:
    """Changes the named fields (PATIENT_FIELDS), trimming text but the notes. A change to
    the name, date of birth, phone or email that makes the record look like another one on
    file raises LikelyDuplicate unless `different_person` is confirmed."""
    changes = {
        name: value.strip() if isinstance(value, str) and name != "notes" else value
        for name, value in changes.items()
    }
    if not different_person and (identifying := set(changes) & set(IDENTIFYING_FIELDS)):
        stored = Patient.objects.filter(pk=patient.pk).values(*IDENTIFYING_FIELDS).first() or {}
        if any(changes[name] != stored.get(name) for name in identifying):
            patient_duplicates_check(
                **{**stored, **{name: changes[name] for name in identifying}},
                other_than=patient,
            )
    return audited_update(
        obj=patient, fields=PATIENT_FIELDS, changes=changes, by=by, request=request
    )


@transaction.atomic
def patient_invite(*, patient: Patient, by) -> None:
    """Gives the patient a portal account and emails a link to choose its password.

    There is no self-registration: the clinic invites. A patient has at most one account.
    An invitation not yet taken up (no password chosen) may be sent again; the new link
    works and the old one keeps working until it expires or a password is set.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if not patient.email:
        raise ValidationError("Add the patient's email address before inviting them.")
    user = patient.user
    if user is not None and user.has_usable_password():
        raise ValidationError("This patient already has a portal account.")
    User = get_user_model()
    email = patient.email.strip().lower()
    taken = User.objects.filter(username__iexact=email)
    if user is not None:
        taken = taken.exclude(pk=user.pk)
    if taken.exists():
        raise ValidationError("Another account already uses this email address.")
    if user is not None and user.email != email:
        # Not taken up yet, and the record's address has changed since: the link goes there.
        user.username = user.email = email
        user.full_clean()
        user.save(update_fields=["username", "email"])
    if user is None:
        user = User(
            username=email,
            email=email,
            first_name=patient.first_name,
            last_name=patient.last_name,
        )
        user.set_unusable_password()
        user.full_clean()
        user.save()
        assign_role(user, Role.PATIENT)
        patient.user = user
        patient.save(update_fields=["user", "updated_at"])
    audit_log(actor=by, action=Action.INVITE, obj=patient, detail="portal invitation sent")
    task_send_on_commit(send_patient_invite, patient.pk)


# --- merging two records of one person ---------------------------------------------------


def patient_relations() -> list[models.ForeignObjectRel]:
    """Every relation from another row to a Patient, hidden ones (related_name="+") and the
    through rows of many-to-many fields too: what a merge moves. Found from the models
    themselves, so a model added later is moved without being named here."""
    return [
        relation
        for relation in Patient._meta.get_fields(include_hidden=True)
        if relation.auto_created
        and not relation.concrete
        and (relation.one_to_many or relation.one_to_one)
    ]


def patient_rows(patient: Patient) -> dict[str, int]:
    """How many rows of each kind hold the patient: what a merge would move (one count per
    kind of row)."""
    rows = {}
    for relation in patient_relations():
        manager = relation.related_model._base_manager
        if count := manager.filter(**{relation.field.name: patient}).count():
            rows[str(relation.related_model._meta.verbose_name_plural)] = count
    return rows


@transaction.atomic
def patient_merge(*, duplicate: Patient, into: Patient, by, request=None) -> dict[str, int]:
    """Moves everything of `duplicate` to `into` and keeps `duplicate` as a pointer to it.

    Plans, sessions and their bookings, history, pre-session checks, screenings, photos with
    their consents, comparisons, and records merged earlier into `duplicate` all move in one
    transaction. The record kept keeps its details and takes from the other only what it
    lacks (email, phone, portal account); the other's notes are added to its own. When both
    have a portal account, the duplicate's is switched off: one person, one login. Audit
    events keep the id they were written with, which the pointer leads to `into`. Returns how
    many rows of each kind moved.
    """
    if not (by.is_superuser or by.has_perm("people.merge_patient")):
        raise ValidationError("Only a clinic admin or a desk lead merges patient records.")
    if duplicate.pk == into.pk:
        raise ValidationError("Choose two different records to merge.")
    locked = {
        patient.pk: patient
        # Only the patients' rows: PostgreSQL locks no nullable side of an outer join (user).
        for patient in Patient.all_records.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk__in=[duplicate.pk, into.pk])
        .order_by("pk")
    }
    duplicate, into = locked[duplicate.pk], locked[into.pk]
    for patient in (duplicate, into):
        if patient.is_merged:
            raise ValidationError(
                f"Record {patient.pk} was already merged into record {patient.merged_into_id}."
            )
    moved: dict[str, int] = {}
    try:
        with transaction.atomic():
            for relation in patient_relations():
                field = relation.field
                count = relation.related_model._base_manager.filter(
                    **{field.name: duplicate}
                ).update(**{field.name: into})
                if count:
                    moved[str(relation.related_model._meta.verbose_name_plural)] = count
    except IntegrityError:
        raise ValidationError(
            "These records cannot be merged: both hold a row that only one person may have."
        ) from None
    with recorded():
        _merge_details(duplicate=duplicate, into=into, by=by, request=request)
        duplicate.merged_into = into
        duplicate.merged_at = timezone.now()
        duplicate.save(update_fields=["user", "merged_into", "merged_at", "updated_at"])
        summary = ", ".join(f"{count} {name}" for name, count in sorted(moved.items()))
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=into,
            request=request,
            detail=f"merged record {duplicate.pk} into this record; moved: {summary or '-'}",
        )
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=duplicate,
            request=request,
            detail=f"merged into record {into.pk}",
        )
    return moved


def _merge_details(*, duplicate: Patient, into: Patient, by, request=None) -> None:
    """The kept record takes what it lacks from the duplicate; one portal login stays."""
    if not into.email and duplicate.email:
        into.email = duplicate.email
    if not into.phone and duplicate.phone:
        # The agreement to text reminders was given for that number: it comes with it.
        into.phone, into.sms_reminders = duplicate.phone, duplicate.sms_reminders
    if duplicate.notes.strip() and duplicate.notes.strip() not in into.notes:
        into.notes = "\n\n".join(
            part for part in (into.notes.strip(), duplicate.notes.strip()) if part
        )
    login = duplicate.user
    duplicate.user = None
    if login is not None and into.user_id is None:
        duplicate.save(update_fields=["user"])  # the login is one-to-one: free it first
        into.user = login
    elif login is not None:
        login.is_active = False
        login.save(update_fields=["is_active"])
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=login,
            patient=into,
            request=request,
            detail=f"portal login of merged record {duplicate.pk} switched off",
        )
    into.save()
