"""core.auth.ModelBackend: Django's answers about permissions, read in one query per user
object, with the group names the audit log records as the actor's role."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from audit.services import _role_of


def fresh(user):
    """The user as the next request sees them: a new object, nothing read yet."""
    return get_user_model().objects.get(pk=user.pk)


def test_own_and_group_permissions_and_group_names_in_one_query(
    clinician_user, django_assert_num_queries
):
    clinician_user.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    clinician_user.groups.add(Group.objects.create(name="Without permissions"))
    user = fresh(clinician_user)
    with django_assert_num_queries(1):
        assert user.has_perm("treatments.add_screening")  # from the Clinician group
        assert user.has_perm("audit.view_auditevent")  # the user's own
        assert not user.has_perm("people.manage_clinic")
        assert _role_of(user) == "Clinician, Without permissions"
    assert user.get_user_permissions() == {"audit.view_auditevent"}
    assert "treatments.add_screening" in user.get_group_permissions()
    assert "audit.view_auditevent" not in user.get_group_permissions()


def test_the_answers_are_djangos(clinician_user, front_desk_user, admin_user):
    from django.contrib.auth.backends import ModelBackend

    for user in (clinician_user, front_desk_user, admin_user):
        assert fresh(user).get_all_permissions() == ModelBackend().get_all_permissions(fresh(user))


def test_nothing_is_kept_beyond_the_user_object(clinician_user):
    user = fresh(clinician_user)
    assert not user.has_perm("people.manage_clinic")
    clinician_user.groups.add(Group.objects.get(name="Clinic admin"))
    assert fresh(clinician_user).has_perm("people.manage_clinic")


def test_inactive_users_and_superusers_as_django_answers(clinician_user, django_user_model):
    clinician_user.is_active = False
    clinician_user.save()
    assert not fresh(clinician_user).has_perm("treatments.add_screening")
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    assert fresh(root).has_perm("people.manage_clinic")
    assert _role_of(fresh(root)) == "superuser"


def test_the_role_without_a_permission_check_reads_the_groups(
    clinician_user, django_assert_num_queries
):
    user = fresh(clinician_user)
    with django_assert_num_queries(1):
        assert _role_of(user) == "Clinician"
