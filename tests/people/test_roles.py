"""Each role reaches its own start page and is refused everyone else's."""

import pytest
from django.urls import reverse

HOMES = {
    "front_desk": "desk_home",
    "clinician": "clinical_home",
    "admin": "admin_home",
    "alice": "portal:home",
}
# Start pages another role may read too: clinicians read the desk's day calendar.
ALSO_READ_BY = {("clinician", "desk_home")}


@pytest.mark.parametrize("who", HOMES)
def test_home_sends_each_role_to_its_start_page(client, persona, who):
    client.force_login(persona(who))
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse(HOMES[who])
    assert client.get(response.url).status_code == 200


@pytest.mark.parametrize("who", HOMES)
@pytest.mark.parametrize("page", sorted(set(HOMES.values())))
def test_other_roles_start_pages_are_refused(client, persona, who, page):
    client.force_login(persona(who))
    expected = 200 if HOMES[who] == page or (who, page) in ALSO_READ_BY else 403
    assert client.get(reverse(page)).status_code == expected


@pytest.mark.parametrize("page", sorted(set(HOMES.values())))
def test_anonymous_visitors_are_sent_to_sign_in(client, page):
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={reverse(page)}"


def test_a_patient_account_without_a_record_is_refused_the_portal(client, django_user_model):
    from people.roles import Role, assign_role

    orphan = django_user_model.objects.create_user("orphan", password="x" * 12)
    assign_role(orphan, Role.PATIENT)
    client.force_login(orphan)
    assert client.get(reverse("portal:home")).status_code == 403


def test_portal_shows_the_signed_in_patient_only(client, alice, bob):
    client.force_login(alice.user)
    body = client.get(reverse("portal:home")).content.decode()
    assert "Hello Alice" in body
    assert "Bob" not in body


def test_groups_carry_the_permissions_of_their_role(db):
    from django.contrib.auth.models import Group

    desk = Group.objects.get(name="Front desk")
    codenames = set(desk.permissions.values_list("codename", flat=True))
    assert {"use_front_desk", "view_patient", "add_patient"} <= codenames
    assert "use_portal" not in codenames
    assert "manage_clinic" not in codenames
    patient = Group.objects.get(name="Patient")
    assert set(patient.permissions.values_list("codename", flat=True)) == {"use_portal"}
