"""The clinic's roles as Django groups, and the permissions each one holds.

Groups are kept in step with this table after every migrate, so a permission added
by a later app reaches its roles without a hand-written data migration.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import Action, audit_log


class Role(StrEnum):
    FRONT_DESK = "Front desk"
    # The front desk's lead: the desk's work and the clinic's reports.
    DESK_LEAD = "Desk lead"
    CLINICIAN = "Clinician"
    CLINIC_ADMIN = "Clinic admin"
    PATIENT = "Patient"


STAFF_ROLES = (Role.FRONT_DESK, Role.DESK_LEAD, Role.CLINICIAN, Role.CLINIC_ADMIN)

TREATMENTS_CATALOGUE_VIEW = (
    "treatments.view_modality",
    "treatments.view_depthlevel",
    "treatments.view_bodyarea",
    "treatments.view_indication",
    "treatments.view_modalityindication",
    "treatments.view_factor",
    "treatments.view_screeningrule",
    "treatments.view_aftercarerule",
    "treatments.view_coursetemplate",
    "treatments.view_coursetemplatelevel",
)

CONSENT_PERMISSIONS = (
    "treatments.view_consentsignature",
    "treatments.add_consentsignature",
    "treatments.view_photoconsent",
    "treatments.add_photoconsent",
)

FRONT_DESK_PERMISSIONS = (
    "people.use_front_desk",
    "people.view_health",
    "people.view_patient",
    "people.add_patient",
    "people.change_patient",
    *TREATMENTS_CATALOGUE_VIEW,
    "treatments.view_treatmentplan",
    "treatments.view_session",
    # Books a new patient's consultation and proposes courses from the clinic's templates;
    # a clinician confirms each course before any session of it is recorded.
    "treatments.propose_treatmentplan",
    "people.invite_patient",
    # Hands the clinic's tablet to a patient to sign a consent form; records a photo consent
    # changed on the patient's word (phone, letter).
    *CONSENT_PERMISSIONS,
)

# "app_label.codename", or "app_label.*" for every permission of an app.
ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.FRONT_DESK: FRONT_DESK_PERMISSIONS,
    Role.DESK_LEAD: (*FRONT_DESK_PERMISSIONS, "reports.view_reports"),
    Role.CLINICIAN: (
        "people.use_clinical",
        "people.view_health",
        "people.view_patient",
        "people.change_patient",
        *TREATMENTS_CATALOGUE_VIEW,
        "treatments.view_treatmentplan",
        "treatments.add_treatmentplan",
        "treatments.change_treatmentplan",
        "treatments.confirm_treatmentplan",
        "treatments.view_session",
        "treatments.change_session",
        "treatments.record_session",
        "treatments.view_historyentry",
        "treatments.add_historyentry",
        "treatments.change_historyentry",
        # What a patient reported in the questionnaire, confirmed or corrected at the visit.
        "treatments.confirm_historyentry",
        "treatments.view_intake",
        "treatments.view_presessioncheck",
        "treatments.add_presessioncheck",
        "treatments.view_screening",
        "treatments.add_screening",
        "treatments.override_screening",
        *CONSENT_PERMISSIONS,
        "photos.view_photo",
        "photos.add_photo",
        "photos.view_comparison",
        "photos.change_comparison",
        "photos.release_comparison",
    ),
    Role.CLINIC_ADMIN: (
        "people.manage_clinic",
        "people.view_health",
        "people.view_patient",
        "people.add_patient",
        "people.change_patient",
        "people.delete_patient",
        "people.invite_patient",
        # A desk lead gets this one too, given to them alone (a user permission in the admin).
        "people.merge_patient",
        # A patient's own data: the export made for them, and erasure after retention.
        "people.export_patient_data",
        "people.erase_patient",
        "treatments.*",
        "scheduling.*",
        "photos.*",
        "portal.*",
        "reports.*",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
    ),
    Role.PATIENT: ("people.use_portal",),
}

# Acts at the point of care: only those who treat do them. A clinic admin manages every
# record of the clinic but screens, overrides and records nothing unless also a clinician.
CLINICAL_ACTS = (
    "treatments.add_presessioncheck",
    "treatments.confirm_treatmentplan",
    "treatments.confirm_historyentry",
    "treatments.add_screening",
    "treatments.override_screening",
    "treatments.record_session",
)
WITHOUT: dict[Role, tuple[str, ...]] = {Role.CLINIC_ADMIN: CLINICAL_ACTS}


def permissions_for(role: Role) -> list[Permission]:
    found: list[Permission] = []
    for spec in ROLE_PERMISSIONS[role]:
        app_label, codename = spec.split(".", 1)
        perms = Permission.objects.filter(content_type__app_label=app_label).select_related(
            "content_type"
        )
        if codename != "*":
            perms = perms.filter(codename=codename)
        found.extend(perms)
    left_out = {tuple(spec.split(".", 1)) for spec in WITHOUT.get(role, ())}
    return [p for p in found if (p.content_type.app_label, p.codename) not in left_out]


def users_who_treat():
    """Active users who may record a session (through a role, or given the permission
    directly): the clinicians a record can name as having performed it."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    app_label, codename = "treatments", "record_session"
    granted = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    ) | Q(
        user_permissions__codename=codename,
        user_permissions__content_type__app_label=app_label,
    )
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(pk__in=users.filter(granted).values("pk")).order_by(
        "first_name", "last_name", "username"
    )


def sync_role_groups(sender=None, **kwargs) -> None:
    # post_migrate is sent once per app, each time after that app's permissions are made. The
    # roles need every app's, so they are set once, after the last app: not once per app, which
    # made each migrate and each test database flush pay for it some fifty times over.
    if sender is not None and sender is not _last_migrated_app():
        return
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set(permissions_for(role))


def _last_migrated_app():
    from django.apps import apps

    return [config for config in apps.get_app_configs() if config.models_module is not None][-1]


def roles_of(user) -> set[Role]:
    if not user.is_authenticated:
        return set()
    names = {group.name for group in user.groups.all()}
    return {role for role in Role if role.value in names}


def assign_role(user, role: Role) -> None:
    group, _ = Group.objects.get_or_create(name=role.value)
    if not group.permissions.exists():
        group.permissions.set(permissions_for(role))
    user.groups.add(group)
    if role is Role.CLINIC_ADMIN and not user.is_staff:
        # Clinic admins edit the catalogue and rules in Django's admin.
        user.is_staff = True
        user.save(update_fields=["is_staff"])


# Roles that carry an act at the point of care. Nobody gives one to themselves: it takes a
# second person, or a superuser.
CLINICAL_ROLES = frozenset(
    role for role in Role if set(ROLE_PERMISSIONS[role]) & set(CLINICAL_ACTS)
)


def role_grant_check(*, user, role: Role, by) -> None:
    """Raises ValidationError, with the reason, unless `by` may give `user` the role."""
    if by.is_superuser:
        return
    if not by.has_perm("people.manage_clinic"):
        raise ValidationError("Only a clinic admin or a superuser gives staff their roles.")
    if role in CLINICAL_ROLES and by.pk == user.pk:
        raise ValidationError(
            f"You cannot give yourself the {role.value} role: it takes a second person. "
            "Ask another clinic admin or a superuser."
        )


def role_grant(*, user, role: Role, by, request=None) -> None:
    """Gives `user` the role if `by` may, and records the grant (or the refusal)."""
    try:
        role_grant_check(user=user, role=role, by=by)
    except ValidationError:
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=user,
            allowed=False,
            request=request,
            detail=f"role grant refused: {role.value}",
        )
        raise
    with transaction.atomic():
        assign_role(user, role)
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=user,
            request=request,
            detail=f"role granted: {role.value}",
        )


def role_revoke(*, user, role: Role, by, request=None) -> None:
    """Takes the role from `user` and records it. Narrowing access needs no second person."""
    if not (by.is_superuser or by.has_perm("people.manage_clinic")):
        raise ValidationError("Only a clinic admin or a superuser takes staff roles away.")
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name=role.value))
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=user,
            request=request,
            detail=f"role revoked: {role.value}",
        )


def superuser_set(*, user, value: bool, by, request=None) -> None:
    """Makes `user` a superuser or not: only a superuser may, and it is recorded."""
    if not by.is_superuser:
        raise ValidationError("Only a superuser makes or unmakes a superuser.")
    if user.is_superuser == value:
        return
    with transaction.atomic():
        user.is_superuser = value
        user.save(update_fields=["is_superuser"])
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=user,
            request=request,
            detail="superuser granted" if value else "superuser revoked",
        )
