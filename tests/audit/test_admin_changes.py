"""Changes to accounts and roles made in Django's admin join the audit chain (before, they
were only in the admin's editable LogEntry table)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditEvent
from audit.services import audit_verify
from tests.factories import StaffFactory

CLIENT = "198.51.100.4"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "x-Strong-pass1")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _change_form(user, **overrides) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "groups": [g.pk for g in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_a_role_and_superuser_grant_in_the_admin_is_in_the_chain(
    admin_client, superuser, clinician_user
):
    admin_group = Group.objects.get(name="Clinic admin")
    before = AuditEvent.objects.count()
    response = admin_client.post(
        f"/admin/auth/user/{clinician_user.pk}/change/",
        _change_form(
            clinician_user,
            groups=[*clinician_user.groups.values_list("pk", flat=True), admin_group.pk],
            is_superuser="on",
            is_staff="on",
        ),
        REMOTE_ADDR=CLIENT,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    new = list(AuditEvent.objects.order_by("id")[before:].values_list("detail", flat=True))
    # The grant and the superuser change, each decided by its own service (people.roles), then
    # the admin's record of the whole change.
    assert sorted(new[:2]) == ["role granted: Clinic admin", "superuser granted"], new
    assert len(new) == 3, new
    event = AuditEvent.objects.order_by("-id")[0]
    assert (event.actor_id, event.action, event.object_type, event.object_id) == (
        superuser.pk,
        "change",
        "auth.User",
        str(clinician_user.pk),
    )
    assert event.ip_address == CLIENT
    assert "groups" in event.detail and "superuser status" in event.detail
    assert "roles Clinic admin, Clinician; superuser yes" in event.detail
    assert clinician_user.email not in event.detail
    assert audit_verify().ok


def test_a_password_set_in_the_admin_is_in_the_chain(admin_client, superuser, clinician_user):
    response = admin_client.post(
        f"/admin/auth/user/{clinician_user.pk}/password/",
        {"password1": "n3w-Secret-pass", "password2": "n3w-Secret-pass", "usable_password": "true"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="change", object_type="auth.User")
    assert event.actor_id == superuser.pk and "password" in event.detail


def test_a_role_s_permissions_changed_in_the_admin_are_in_the_chain(admin_client, superuser):
    group = Group.objects.get(name="Front desk")
    response = admin_client.post(
        f"/admin/auth/group/{group.pk}/change/", {"name": group.name, "permissions": []}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="change", object_type="auth.Group")
    assert (event.actor_id, event.object_id) == (superuser.pk, str(group.pk))
    assert "permissions" in event.detail and "0 permissions" in event.detail


def test_an_account_deleted_in_the_admin_is_in_the_chain(admin_client, superuser):
    leaver = StaffFactory(username="leaver", role="Front desk")
    response = admin_client.post(f"/admin/auth/user/{leaver.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="delete")
    assert (event.actor_id, event.object_type, event.object_id) == (
        superuser.pk,
        "auth.User",
        str(leaver.pk),
    )
