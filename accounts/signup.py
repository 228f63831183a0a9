"""The public sign-up: a new patient opens a portal account from the clinic's booking page.

`patient_signup` makes a patient record and an inactive account, and emails a link that
verifies the address (people.tokens.signup_token_generator); until it is opened the account
cannot sign in. A sign-up that looks like someone on file (the duplicate check of
people.matching: name and date of birth, phone or email) or whose email already names an
account makes nothing: the person on file is emailed a hint at the address the clinic holds
instead, and the page answers the same "check your email" either way, so a sign-up never tells
whether someone is a patient here. A sign-up nobody verifies is removed after
SIGNUP_UNVERIFIED_DAYS (`unverified_signups_remove`, daily).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from audit.models import AuditEvent
from audit.services import Action, audit_log, recorded
from core.tasks import task_send_on_commit
from people.export import patient_row_sets
from people.models import Patient
from people.roles import Role, assign_role
from people.services import DUPLICATES_SHOWN
from people.tokens import signup_token_generator

from .models import PendingSignup
from .tasks import send_signup_hint, send_signup_verification

logger = logging.getLogger(__name__)

LINK_EXPIRED = "This link no longer works: it has been used already, or it has expired."


def patient_signup(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: dt.date,
    email: str,
    phone: str,
    password: str,
    request=None,
) -> Patient | None:
    """The new patient and their inactive account, with the verification link on its way;
    None when the details match someone on file (who is emailed a hint instead). Raises
    ValidationError, by field, for details that cannot be right (a date of birth to come, a
    phone number that is none, a weak password), before anything is looked up."""
    email = email.strip().lower()
    patient = Patient(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        email=email,
        phone=phone.strip(),
    )
    patient.full_clean()
    User = get_user_model()
    user = User(
        username=email,
        email=email,
        first_name=patient.first_name[:150],
        last_name=patient.last_name[:150],
        is_active=False,
    )
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password1": error.messages}) from None
    with recorded():
        account = User.objects.filter(username__iexact=email).first()
        waiting = account if account is not None and _is_waiting(account) else None
        candidates = list(
            Patient.objects.likely_duplicates(
                first_name=patient.first_name,
                last_name=patient.last_name,
                date_of_birth=patient.date_of_birth,
                phone=patient.phone,
                email=email,
            )
            .exclude(user__pending_signup__isnull=False)  # sign-ups nobody has verified
            .select_related("user")[:DUPLICATES_SHOWN]
        )
        if candidates or (account is not None and waiting is None):
            _matched(candidates=candidates, account=account, request=request)
            return None
        if waiting is not None:
            return _signup_again(waiting, patient, password=password, request=request)
        user.set_password(password)
        user.full_clean()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # the same address signed up a moment ago
            return None
        assign_role(user, Role.PATIENT)
        PendingSignup.objects.create(user=user)
        patient.user = user
        patient.save()
        audit_log(
            actor=None,
            action=Action.CREATE,
            obj=patient,
            request=request,
            detail="signed up in the portal; email not verified yet",
        )
        task_send_on_commit(send_signup_verification, user.pk)
    return patient


def _is_waiting(user) -> bool:
    return PendingSignup.objects.filter(user=user).exists()


def _signup_again(user, typed: Patient, *, password: str, request) -> Patient | None:
    """A second sign-up with the address of one nobody has verified yet: the latest wins. Its
    details and password replace the first's, whose link stops working (it is bound to the
    password), so whoever signed up first with someone else's address cannot keep a way in
    to the account its owner then verifies."""
    patient = Patient.objects.select_for_update().filter(user=user).first()
    if patient is None:  # merged away meanwhile: treat the address as taken
        _matched(candidates=[], account=user, request=request)
        return None
    for name in ("first_name", "last_name", "date_of_birth", "phone"):
        setattr(patient, name, getattr(typed, name))
    patient.full_clean()
    patient.save()
    user.first_name, user.last_name = typed.first_name[:150], typed.last_name[:150]
    user.set_password(password)
    user.save(update_fields=["first_name", "last_name", "password"])
    PendingSignup.objects.filter(user=user).update(created_at=timezone.now())
    audit_log(
        actor=None,
        action=Action.CHANGE,
        obj=patient,
        request=request,
        detail="signed up again before verifying: details and password replaced",
    )
    task_send_on_commit(send_signup_verification, user.pk)
    return patient


def _matched(*, candidates: list[Patient], account, request) -> None:
    """Emails each address on file a hint (one email per address): sign in or reset the
    password, confirm a sign-up still waiting (a new link), or ask the clinic for an
    invitation; records the refused sign-up on each record it matched."""
    hinted: set[str] = set()
    for patient in candidates:
        address = (patient.user.email if patient.user else patient.email).strip().lower()
        if address and address not in hinted:
            hinted.add(address)
            task_send_on_commit(send_signup_hint, address)
        audit_log(
            actor=None,
            action=Action.CREATE,
            obj=patient,
            allowed=False,
            request=request,
            detail="portal sign-up matched this record: nothing made; "
            + ("hint emailed" if address else "no email on file"),
        )
    if account is not None and account.email.strip().lower() not in hinted:
        task_send_on_commit(send_signup_hint, account.email.strip().lower())
        audit_log(
            actor=None,
            action=Action.CREATE,
            obj=account,
            allowed=False,
            request=request,
            detail="portal sign-up with the address of an account: nothing made; hint emailed",
        )


def user_for_link(uidb64: str, token: str):
    """The account waiting for verification that this link is for, or None."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    user = get_user_model().objects.filter(pk=pk, pending_signup__isnull=False).first()
    if user is None or not signup_token_generator.check_token(user, token):
        return None
    return user


def signup_verify(*, user, request=None) -> Patient:
    """Opens the account of a verified sign-up: active, and no longer waiting. Refused for an
    account no longer waiting or whose record went elsewhere (merged into another)."""
    with recorded():
        pending = (
            PendingSignup.objects.select_for_update().select_related("user").filter(user=user)
        ).first()
        patient = Patient.objects.filter(user=user).first()
        if pending is None or patient is None:
            raise ValidationError(LINK_EXPIRED)
        user = pending.user
        user.is_active = True
        user.save(update_fields=["is_active"])
        pending.delete()
        audit_log(
            actor=user,
            action=Action.CHANGE,
            obj=patient,
            request=request,
            detail="portal sign-up: email verified, account open",
        )
    return patient


def unverified_signups_remove(*, now: dt.datetime | None = None) -> int:
    """Removes each sign-up nobody verified within SIGNUP_UNVERIFIED_DAYS (its link expired
    long before): the inactive account and the record it made, whose name, birth date, phone
    and address may even be someone else's typed in. A record the clinic has had anything to
    do with is the clinic's and stays: a row that points to it (a booking, a history entry),
    or anything someone signed in did to it or saw of it (the audit trail: a note, a corrected
    phone, a look). So does an account switched on by hand. The audit trail keeps that the
    removal happened, by id. One that cannot be removed is logged and left for the next day;
    the others go on. Returns how many were removed."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.SIGNUP_UNVERIFIED_DAYS)
    waiting = PendingSignup.objects.filter(created_at__lt=cutoff, user__is_active=False)
    removed = 0
    for user_id in waiting.values_list("user_id", flat=True):
        try:
            removed += _unverified_signup_remove(user_id, cutoff)
        except DatabaseError:
            logger.exception(
                "Unverified sign-up of user %s not removed; tried again tomorrow", user_id
            )
    return removed


def _unverified_signup_remove(user_id: int, cutoff: dt.datetime) -> int:
    with recorded():
        # Locks in the order a second sign-up takes them (_signup_again): the record first.
        patients = list(Patient.all_records.select_for_update().filter(user_id=user_id))
        pending = PendingSignup.objects.select_for_update().filter(
            user_id=user_id, created_at__lt=cutoff, user__is_active=False
        )
        if not pending.exists():  # verified, switched on, or signed up again meanwhile
            return 0
        for patient in patients:
            if any(rows.exists() for _, rows in patient_row_sets(patient)):
                return 0
            if AuditEvent.objects.filter(patient_id=patient.pk, actor__isnull=False).exists():
                return 0
        for patient in patients:
            audit_log(
                actor=None,
                action=Action.DELETE,
                obj=patient,
                detail=f"portal sign-up never verified: removed after "
                f"{settings.SIGNUP_UNVERIFIED_DAYS} days",
            )
            patient.delete()
        get_user_model().objects.filter(pk=user_id).delete()
    return 1
