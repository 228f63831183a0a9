"""Who may give whom a role: a clinic admin manages staff but cannot widen their own access.

Giving oneself a clinical role takes a second person (or a superuser); only a superuser makes
a superuser or hands out single permissions; every grant and revocation joins the audit chain.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from people.roles import Role, role_grant, role_revoke, roles_of
from tests.factories import StaffFactory


def change_url(user) -> str:
    return reverse("admin:auth_user_change", args=[user.pk])


def group_id(role: Role) -> int:
    return Group.objects.get(name=role.value).pk


def admin_form(user, **changes) -> dict:
    """What the admin's change form posts for `user`, with `changes` made."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "groups": [g.pk for g in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


# --- the rule, without HTTP ---------------------------------------------------------------


def test_a_clinic_admin_cannot_give_themselves_a_clinical_role(admin_user):
    with pytest.raises(ValidationError, match="second person"):
        role_grant(user=admin_user, role=Role.CLINICIAN, by=admin_user)
    assert Role.CLINICIAN not in roles_of(admin_user)
    refused = AuditEvent.objects.get(detail="role grant refused: Clinician")
    assert refused.allowed is False and refused.actor == admin_user


def test_another_clinic_admin_or_a_superuser_may(admin_user, django_user_model):
    second = StaffFactory(username="bram", role=Role.CLINIC_ADMIN)
    role_grant(user=admin_user, role=Role.CLINICIAN, by=second)
    assert Role.CLINICIAN in roles_of(admin_user)
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x" * 12)
    desk = StaffFactory(username="fleur", role=Role.FRONT_DESK)
    role_grant(user=desk, role=Role.CLINICIAN, by=root)
    grants = AuditEvent.objects.filter(detail="role granted: Clinician", allowed=True)
    assert {(e.actor.username, e.object_id) for e in grants} == {
        ("bram", str(admin_user.pk)),
        ("root", str(desk.pk)),
    }


def test_staff_who_do_not_manage_the_clinic_grant_nothing(front_desk_user, clinician_user):
    with pytest.raises(ValidationError):
        role_grant(user=front_desk_user, role=Role.FRONT_DESK, by=clinician_user)


def test_a_revocation_is_recorded(admin_user, clinician_user):
    role_revoke(user=clinician_user, role=Role.CLINICIAN, by=admin_user)
    assert roles_of(clinician_user) == set()
    revoked = AuditEvent.objects.get(detail="role revoked: Clinician")
    assert revoked.actor == admin_user and revoked.object_id == str(clinician_user.pk)


# --- the staff admin ------------------------------------------------------------------------


def test_a_clinic_admin_cannot_tick_superuser_on_their_own_account(client, admin_user):
    client.force_login(admin_user)
    page = client.get(change_url(admin_user))
    assert page.status_code == 200
    response = client.post(change_url(admin_user), admin_form(admin_user, is_superuser="on"))
    assert response.status_code in (200, 302)
    admin_user.refresh_from_db()
    assert admin_user.is_superuser is False


def test_a_clinic_admin_cannot_add_themselves_to_clinician(client, admin_user):
    client.force_login(admin_user)
    groups = [group_id(Role.CLINIC_ADMIN), group_id(Role.CLINICIAN)]
    response = client.post(change_url(admin_user), admin_form(admin_user, groups=groups))
    assert response.status_code == 200  # the form again, with the reason
    assert "second person" in response.content.decode()
    assert roles_of(admin_user) == {Role.CLINIC_ADMIN}
    # ...and so cannot download the originals of photos either.
    assert not admin_user.has_perm("treatments.record_session")


def test_a_clinic_admin_gives_another_person_a_role_and_it_is_recorded(client, admin_user):
    desk = StaffFactory(username="fleur", role=Role.FRONT_DESK)
    client.force_login(admin_user)
    groups = [group_id(Role.FRONT_DESK), group_id(Role.CLINICIAN)]
    response = client.post(change_url(desk), admin_form(desk, groups=groups))
    assert response.status_code == 302
    assert roles_of(desk) == {Role.FRONT_DESK, Role.CLINICIAN}
    granted = AuditEvent.objects.get(detail="role granted: Clinician")
    assert granted.actor == admin_user and granted.object_id == str(desk.pk)
    # Taken away again, also recorded.
    client.post(change_url(desk), admin_form(desk, groups=[group_id(Role.FRONT_DESK)]))
    assert roles_of(desk) == {Role.FRONT_DESK}
    assert AuditEvent.objects.filter(detail="role revoked: Clinician").count() == 1


def test_a_clinic_admin_cannot_hand_out_single_permissions(client, admin_user):
    record = Permission.objects.get(codename="record_session")
    client.force_login(admin_user)
    client.post(change_url(admin_user), admin_form(admin_user, user_permissions=[record.pk]))
    assert not admin_user.user_permissions.exists()


def test_a_clinic_admin_cannot_change_a_superuser(client, admin_user, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x" * 12)
    client.force_login(admin_user)
    assert client.get(change_url(root)).status_code in (302, 404)
    password_url = reverse("admin:auth_user_password_change", args=[root.pk])
    client.post(password_url, {"password1": "taken-over-42x", "password2": "taken-over-42x"})
    root.refresh_from_db()
    assert not root.check_password("taken-over-42x")


def test_a_superuser_makes_a_superuser_and_it_is_recorded(client, admin_user, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x" * 12)
    client.force_login(root)
    response = client.post(change_url(admin_user), admin_form(admin_user, is_superuser="on"))
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.is_superuser
    granted = AuditEvent.objects.get(detail="superuser granted")
    assert granted.actor == root and granted.object_id == str(admin_user.pk)


def test_a_clinic_admin_cannot_set_another_staff_members_password(client, admin_user):
    """Else the "second person" could be the same one, signed in as a colleague."""
    colleague = StaffFactory(username="bram", role=Role.CLINIC_ADMIN)
    client.force_login(admin_user)
    url = reverse("admin:auth_user_password_change", args=[colleague.pk])
    response = client.post(url, {"password1": "taken-over-42x", "password2": "taken-over-42x"})
    assert response.status_code == 403
    colleague.refresh_from_db()
    assert not colleague.check_password("taken-over-42x")
