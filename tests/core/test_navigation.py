"""The top bar offers each role its own links, with each request's own name and CSRF token."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import StaffFactory

ALL_LINKS = {"Manage", "Front desk", "Clinical", "Patients", "My treatment", "Health"}


def main_links(client, user) -> set[str]:
    client.force_login(user)
    html = client.get(reverse("home"), follow=True).content.decode()
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert nav, "the signed-in page has no main navigation"
    return set(re.findall(r"<a href=\"[^\"]+\">([^<]+)</a>", nav.group(1)))


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("front_desk", {"Front desk", "Patients", "Health"}),
        ("clinician", {"Clinical", "Patients", "Health"}),
        ("alice", {"My treatment"}),
    ],
)
def test_each_role_sees_its_own_links(client, persona, who, expected):
    assert main_links(client, persona(who)) == expected


def test_links_follow_a_change_of_roles_in_the_same_process(client, front_desk_user):
    from django.contrib.auth.models import Group

    assert "Clinical" not in main_links(client, front_desk_user)
    front_desk_user.groups.add(Group.objects.get(name="Clinician"))
    front_desk_user.refresh_from_db()
    assert main_links(client, front_desk_user) >= {"Front desk", "Clinical", "Patients"}


def test_the_clinic_admin_sees_the_management_links(client, admin_user):
    links = main_links(client, admin_user)
    assert "Manage" in links
    assert links <= ALL_LINKS


def top_bar(client, user) -> str:
    client.force_login(user)
    html = client.get(reverse("home"), follow=True).content.decode()
    bar = re.search(r'<header class="topbar">(.*?)</header>', html, re.S)
    assert bar, "the signed-in page has no top bar"
    return bar.group(1)


def test_each_user_of_a_role_sees_their_own_name_escaped(client, clinician_user):
    first = top_bar(client, clinician_user)
    other = StaffFactory(
        username="eve", first_name="<b>Eve</b>", last_name="O'Neil", role="Clinician"
    )
    second = top_bar(Client(), other)
    own_name = clinician_user.get_full_name() or clinician_user.username
    assert f'<span class="who">{own_name}</span>' in first
    assert "Eve" not in first
    assert '<span class="who">&lt;b&gt;Eve&lt;/b&gt; O&#x27;Neil</span>' in second
    assert "<b>Eve</b>" not in second


def test_the_sign_out_form_carries_this_requests_token(clinician_user):
    client = Client(enforce_csrf_checks=True)
    bar = top_bar(client, clinician_user)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', bar).group(1)
    assert client.post(reverse("logout"), {"csrfmiddlewaretoken": token}).status_code == 302
    assert "_auth_user_id" not in client.session
    # Without it, the same form is refused.
    client.force_login(clinician_user)
    assert client.post(reverse("logout")).status_code == 403
