"""Bugs the resilience tests found, pinned down one by one."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/patients/", "/api/patients/"])
def test_a_nul_character_in_the_patient_search_is_not_a_server_error(
    path, client, front_desk_user, alice
):
    """PostgreSQL refuses NUL in a string literal: the search used to answer 500 there."""
    client.force_login(front_desk_user)
    response = client.get(path, {"q": "Ali\x00ce"})
    assert response.status_code == 200
    assert "Alice" in response.content.decode()


def test_an_absurd_id_in_a_course_booking_is_a_400(client, front_desk_user, alice_file):
    """An id beyond the database's integer range used to reach the query and fail there."""
    client.force_login(front_desk_user)
    response = client.post(
        f"/api/booking/plans/{alice_file.plan.pk}/book/",
        {
            "sessions": [
                {
                    "session": 10**30,
                    "starts_at": "2026-03-02T10:00:00+01:00",
                    "practitioner": 10**30,
                }
            ]
        },
        content_type="application/json",
    )
    assert response.status_code == 400, response.content


def test_aftercare_is_the_plain_list_the_schema_documents(client, clinician_user, alice_file):
    client.force_login(clinician_user)
    response = client.get(f"/api/sessions/{alice_file.session.pk}/aftercare/")
    assert response.status_code == 200
    assert isinstance(response.json(), list)
