"""Answers for a signed-in user are never kept by a browser or a shared cache."""

from __future__ import annotations

import pytest
from django.urls import reverse

NO_STORE = {"no-store", "private"}


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("clinician", "/patients/"),
        ("clinician", "/clinical/"),
        ("front_desk", "/desk/"),
        ("alice", "/portal/"),
        ("alice", "/portal/history/"),
        ("admin", "/manage/"),
    ],
)
def test_pages_for_a_signed_in_user_are_not_stored(client, persona, who, url):
    client.force_login(persona(who))
    response = client.get(url)
    assert response.status_code == 200
    assert directives(response) >= NO_STORE


def test_patient_data_over_the_api_is_not_stored(client, clinician_user, bob):
    client.force_login(clinician_user)
    response = client.get(f"/api/patients/{bob.pk}/")
    assert response.status_code == 200
    assert directives(response) >= NO_STORE
    token = client.post(
        reverse("api_token"),
        {"username": clinician_user.username, "password": "correct-horse-battery"},
    )
    assert directives(token) >= NO_STORE  # the token itself
    by_token = client.get(
        "/api/patients/", headers={"Authorization": f"Token {token.json()['token']}"}
    )
    assert by_token.status_code == 200
    assert directives(by_token) >= NO_STORE


def test_a_refusal_to_a_signed_in_user_is_not_stored_either(client, alice, bob):
    client.force_login(alice.user)
    response = client.get(f"/api/patients/{bob.pk}/")
    assert response.status_code in (403, 404)
    assert directives(response) >= NO_STORE
