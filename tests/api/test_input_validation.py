"""Every input checked before it is used: ids, dates, lists of ids, JSON bodies, pagination and
filters. Each case was a server error or a wrong record before (issues 18 and 19)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from treatments.models import Factor, HistoryEntry
from treatments.serializers import CheckSerializer

PATIENT_FILTERED = [
    "/api/plans/",
    "/api/sessions/",
    "/api/screenings/",
    "/api/history/",
    "/api/photos/",
    "/api/comparisons/",
]


def _json_endpoints(f) -> list[str]:
    return [
        "/api/patients/",
        "/api/plans/",
        "/api/history/",
        f"/api/sessions/{f.session.pk}/screen/",
        f"/api/sessions/{f.session.pk}/record/",
        f"/api/booking/sessions/{f.session.pk}/book/",
        f"/api/booking/plans/{f.plan.pk}/book/",
        f"/api/screenings/{f.screening.pk}/override/",
        "/api/comparisons/propose/",
        "/api/auth/token/",
    ]


def test_deeply_nested_json_is_a_400_on_every_json_endpoint(api, all_roles_user, alice_file):
    staff = api(all_roles_user)
    nested = "[" * 100_000 + "]" * 100_000
    for url in _json_endpoints(alice_file):
        response = staff.post(url, nested)
        assert response.status_code == 400, url
        assert "nested deeper" in response.json()["detail"], url


def test_a_json_body_past_the_size_limit_is_a_400(api, clinician_user, alice_file, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"patient": alice_file.patient.pk, "factor": 1, "notes": "x" * 2000}
    response = api(clinician_user).post("/api/history/", body)
    assert response.status_code == 400
    assert "larger than 1000 bytes" in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ended_on", "9999-12-31", "between 1900 and 2100"),
        ("ended_on", "2099-12-31", "at most a year in the future"),
        ("started_on", "0001-01-01", "between 1900 and 2100"),
        ("started_on", "1901-01-01", "before the patient was born"),
        ("started_on", "١٢٣٤-٠١-٠١", "YYYY-MM-DD"),
        ("started_on", "2020-01-01T00:00:00", "YYYY-MM-DD"),
    ],
)
def test_history_dates_are_sane(api, clinician_user, alice_file, field, value, message):
    before = HistoryEntry.objects.count()
    body = {
        "patient": alice_file.patient.pk,
        "factor": alice_file.history.factor_id,
        "started_on": "2020-01-01",
        field: value,
    }
    response = api(clinician_user).post("/api/history/", body)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert HistoryEntry.objects.count() == before


def test_a_history_entry_cannot_be_changed_to_end_after_today(api, clinician_user, alice_file):
    url = f"/api/history/{alice_file.history.pk}/"
    response = api(clinician_user).post(url, {"ended_on": "9999-12-31"}, method="patch")
    assert response.status_code == 400
    alice_file.history.refresh_from_db()
    assert alice_file.history.ended_on is None


@pytest.mark.parametrize("value", [True, False, 1.5, "1.0", "²", "١", 2**31, 0, -1, [1], None])
def test_only_a_whole_number_in_range_is_an_id(api, clinician_user, alice_file, value):
    body = {"patient": value, "factor": alice_file.history.factor_id, "started_on": "2020-01-01"}
    before = HistoryEntry.objects.count()
    response = api(clinician_user).post("/api/history/", body)
    assert response.status_code == 400
    assert "patient" in response.json()
    assert HistoryEntry.objects.count() == before


@pytest.mark.parametrize("url", PATIENT_FILTERED)
@pytest.mark.parametrize("value", ["²", "9" * 30, "null", "0", "-1", "1.5", "١"])
def test_an_invalid_patient_filter_is_a_400_not_everyones_records(
    api, clinician_user, alice_file, url, value
):
    response = api(clinician_user).get(url, {"patient": value})
    assert response.status_code == 400
    assert "patient" in response.json()


@pytest.mark.parametrize("url", PATIENT_FILTERED)
def test_the_patient_filter_still_narrows_to_one_patient(api, clinician_user, alice_file, bob, url):
    clinician = api(clinician_user)
    assert clinician.get(url, {"patient": alice_file.patient.pk}).json()["count"] > 0
    assert clinician.get(url, {"patient": bob.pk}).json()["count"] == 0


@pytest.mark.parametrize(
    "query",
    [
        {"limit": str(10**20)},
        {"offset": str(10**20)},
        {"limit": "abc"},
        {"limit": "0"},
        {"limit": "100000"},
        {"offset": "-1"},
        {"limit": "²"},
    ],
)
def test_pagination_is_bounded(api, clinician_user, alice_file, query):
    response = api(clinician_user).get("/api/patients/", query)
    assert response.status_code == 400
    assert next(iter(query)) in response.json()


def test_pagination_in_range_still_pages(api, clinician_user, alice_file, bob):
    page = api(clinician_user).get("/api/patients/", {"limit": "1", "offset": "1"}).json()
    assert page["count"] == 2 and len(page["results"]) == 1


def test_a_malformed_id_in_the_path_is_a_404(api, clinician_user, alice_file):
    response = api(clinician_user).get("/api/sessions/null,null/aftercare/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("first_day", "last_day"),
    [("9999-12-28", "9999-12-31"), ("0001-01-01", "0001-01-03"), ("٢٠٢٦-٠٣-٠٢", "2026-03-03")],
)
def test_availability_far_dates_are_a_400(api, front_desk_user, alice_file, first_day, last_day):
    query = {"session": alice_file.session.pk, "first_day": first_day, "last_day": last_day}
    response = api(front_desk_user).get("/api/booking/availability/", query)
    assert response.status_code == 400
    assert "first_day" in response.json()


def test_a_booking_in_the_year_9999_is_a_400(api, front_desk_user, alice_file):
    url = f"/api/booking/sessions/{alice_file.session.pk}/book/"
    body = {"starts_at": "9999-12-31T23:30:00Z", "practitioner": front_desk_user.pk}
    response = api(front_desk_user).post(url, body)
    assert response.status_code == 400
    assert "starts_at" in response.json()


def test_a_long_list_of_factor_ids_is_refused_before_any_is_looked_up(
    api, clinician_user, alice_file
):
    ids = list(range(1, 20_001))
    with CaptureQueriesContext(connection) as queries:
        response = api(clinician_user).post(
            f"/api/sessions/{alice_file.session.pk}/screen/", {"present": ids}
        )
    assert response.status_code == 400
    assert "at most 200" in response.json()["present"][0]
    assert not [q for q in queries if "treatments_factor" in q["sql"]]


def test_a_list_of_factor_ids_is_looked_up_in_one_query(db):
    factors = list(Factor.objects.filter(in_pre_session_check=True)[:3])
    assert len(factors) == 3
    ids = [f.pk for f in factors] + [factors[0].pk]
    with CaptureQueriesContext(connection) as queries:
        shape = CheckSerializer(data={"present": ids})
        assert shape.is_valid(), shape.errors
    assert len(queries) == 1
    assert shape.validated_data["present"] == [*factors, factors[0]]


def test_an_unknown_factor_id_is_named(db):
    shape = CheckSerializer(data={"present": [2_000_000_000]})
    assert not shape.is_valid()
    assert "2000000000" in str(shape.errors["present"])


def test_the_date_of_birth_is_sane(api, front_desk_user, db):
    body = {"first_name": "A", "last_name": "B", "date_of_birth": "0001-01-01"}
    response = api(front_desk_user).post("/api/patients/", body)
    assert response.status_code == 400
    assert "date_of_birth" in response.json()


@pytest.mark.parametrize("earlier", ["²", "١", "9" * 30, "-1", "abc"])
def test_the_chart_reads_its_page_offset_with_the_shared_parser(
    client, clinician_user, alice_file, earlier
):
    client.force_login(clinician_user)
    response = client.get(f"/treatments/patients/{alice_file.patient.pk}/", {"earlier": earlier})
    assert response.status_code == 200
