"""The top bar offers each role its own links, though drawn once per permission set."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

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
