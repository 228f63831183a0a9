"""The staff and clinician pages: the chart, planning, screening with overrides, recording."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from tests.records import arrive
from tests.services import AUDIT_WRITES
from treatments import services
from treatments.models import HistoryEntry, Screening, Session, TreatmentPlan

from .conftest import at

TODAY = datetime.date(2026, 3, 10)


@pytest.fixture
def alice_plan(alice, make_plan):
    return make_plan(alice, "microdermabrasion", TODAY)


@pytest.mark.parametrize(
    ("role", "chart", "clinical", "treats"),
    [
        ("front_desk", 200, 403, 403),
        ("clinician", 200, 200, 200),
        ("admin", 200, 200, 403),
        ("alice", 403, 403, 403),
        ("bob", 403, 403, 403),
    ],
)
def test_permissions_per_role(client, persona, alice, alice_plan, role, chart, clinical, treats):
    """Front desk sees courses and sessions; only clinical roles see history and screenings;
    only those who treat record and override (a clinic admin manages, but does not treat)."""
    session = alice_plan.sessions.get(number=1)
    screening = alice_plan.screenings.get()
    client.force_login(persona(role))
    reads = [
        reverse("treatments:chart", args=[alice.pk]),
        reverse("treatments:plan_detail", args=[alice_plan.pk]),
        reverse("treatments:session_detail", args=[session.pk]),
    ]
    for url in reads:
        assert client.get(url).status_code == chart, url
    clinical_pages = [
        reverse("treatments:history_create", args=[alice.pk]),
        reverse("treatments:plan_create", args=[alice.pk]),
        reverse("treatments:screening_detail", args=[screening.pk]),
    ]
    for url in clinical_pages:
        assert client.get(url).status_code == clinical, url
    assert client.get(reverse("treatments:session_record", args=[session.pk])).status_code == treats
    override = reverse("treatments:screening_override", args=[screening.pk])
    # A clear screening has nothing to override.
    assert client.post(override, {"override_reason": "x"}).status_code == (
        403 if treats == 403 else 400
    )


def test_front_desk_sees_courses_but_not_the_medical_history(
    client, front_desk_user, alice, alice_plan, catalogue
):
    services.history_add(patient=alice, factor=catalogue.factor("keloid"))
    client.force_login(front_desk_user)
    body = client.get(reverse("treatments:chart", args=[alice.pk])).content.decode()
    assert "Microdermabrasion · Face" in body
    assert "Keloid tendency" not in body
    assert "Medical history" not in body
    session = alice_plan.sessions.get(number=1)
    page = client.get(reverse("treatments:session_detail", args=[session.pk])).content.decode()
    assert "Screen the patient" not in page
    assert client.post(reverse("treatments:session_screen", args=[session.pk])).status_code == 403


def test_the_chart_shows_history_plans_sessions_and_screenings(
    client,
    clinician_user,
    alice,
    alice_plan,
    catalogue,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    services.history_add(
        patient=alice,
        factor=catalogue.factor("isotretinoin"),
        started_on=TODAY,
        ended_on=TODAY,
        notes="acne",
    )
    client.force_login(clinician_user)
    url = reverse("treatments:chart", args=[alice.pk])
    response = client.get(url)
    body = response.content.decode()
    assert "Isotretinoin (e.g. Roaccutane)" in body
    assert "0 of 6" in body
    assert body.count("Microdermabrasion · Face · ") == 6
    assert "Course planned" in body
    assert AuditEvent.objects.filter(
        action="view", patient_id=alice.pk, actor=clinician_user, detail="chart"
    ).exists()

    # More of everything must not add queries.
    with django_capture_on_commit_callbacks(execute=True):
        for days in (200, 300):  # after the isotretinoin's six months: planning refuses before
            services.plan_create(
                patient=alice,
                indication=catalogue.indication("acne-scars"),
                body_area=catalogue.area("back"),
                modality=catalogue.modality("microneedling"),
                first_date=TODAY + datetime.timedelta(days=days),
            )
            services.history_add(patient=alice, factor=catalogue.factor("keloid"))
    # session, user, the user's own and their groups' permissions with the group names (has_perm
    # keeps them for the request), the patient, plans with progress, sessions with
    # plan/modality/area/level, history with factors and areas, screenings with
    # modality/level/users/session, their findings, the flagged sessions, then the audit writes
    # (the viewer's role from the group names already read)
    with django_assert_num_queries(10 + AUDIT_WRITES):
        response = client.get(url)
    assert response.content.decode().count("Microneedling · Back · ") == 8


def test_patients_cannot_open_another_patients_chart(client, alice, bob, alice_plan):
    client.force_login(bob.user)
    assert client.get(reverse("treatments:chart", args=[alice.pk])).status_code == 403
    session = alice_plan.sessions.first()
    assert client.get(reverse("treatments:session_detail", args=[session.pk])).status_code == 403
    assert client.get(reverse("treatments:plan_detail", args=[alice_plan.pk])).status_code == 403


def test_plan_a_course_with_catalogue_defaults(client, clinician_user, alice, catalogue):
    client.force_login(clinician_user)
    url = reverse("treatments:plan_create", args=[alice.pk])
    page = client.get(url).content.decode()
    assert "Catalogue defaults" in page
    assert "Stretch marks" in page  # limited benefit for microdermabrasion
    response = client.post(
        url,
        {
            "indication": catalogue.indication("stretch-marks").pk,
            "modality": catalogue.modality("microdermabrasion").pk,
            "body_area": catalogue.area("abdomen").pk,
            "first_date": "2026-03-10",
        },
    )
    plan = TreatmentPlan.objects.get()
    assert response.status_code == 302
    assert response.url == plan.get_absolute_url()
    detail = client.get(response.url).content.decode()
    assert "Limited benefit" in detail
    assert "Only helps as maintenance" in detail
    assert "Tue 24 Mar 2026" in detail  # the second session, 14 days later


@pytest.mark.parametrize(
    ("indication", "interval", "message"),
    [
        ("dull-dry-rough-skin", "3", "need at least 7 days between them; 3 is too short"),
        (
            "hormonal-pigmentation",
            "",
            "Hormonal pigmentation (such as melasma) is not an indication",
        ),
    ],
)
def test_wrong_plan_input_answers_400_with_the_reason(
    client, clinician_user, alice, catalogue, indication, interval, message
):
    client.force_login(clinician_user)
    response = client.post(
        reverse("treatments:plan_create", args=[alice.pk]),
        {
            "indication": catalogue.indication(indication).pk,
            "modality": catalogue.modality("microdermabrasion").pk,
            "body_area": catalogue.area("face").pk,
            "first_date": "2026-03-10",
            "interval_days": interval,
        },
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TreatmentPlan.objects.exists()


def test_history_entry_needs_a_day_for_a_treatment(client, clinician_user, alice, catalogue):
    client.force_login(clinician_user)
    url = reverse("treatments:history_create", args=[alice.pk])
    response = client.post(url, {"factor": catalogue.factor("laser-ipl").pk})
    assert response.status_code == 400
    assert "Give the day it happened." in response.content.decode()
    response = client.post(
        url,
        {
            "factor": catalogue.factor("laser-ipl").pk,
            "started_on": "2026-03-01",
            "notes": "IPL elsewhere",
        },
    )
    assert response.status_code == 302
    entry = HistoryEntry.objects.get()
    edit = reverse("treatments:history_edit", args=[entry.pk])
    assert (
        client.post(edit, {"factor": entry.factor_id, "started_on": "2999-01-01"}).status_code
        == 400
    )
    entry.refresh_from_db()
    assert entry.started_on == datetime.date(2026, 3, 1)


@time_machine.travel(at(TODAY, 9), tick=False)
def test_a_blocked_finding_cannot_be_overridden_or_recorded(
    client, clinician_user, alice_plan, catalogue
):
    session = alice_plan.sessions.get(number=1)
    arrive(session, timezone.now())
    client.force_login(clinician_user)
    response = client.post(
        reverse("treatments:session_screen", args=[session.pk]),
        {"present": [catalogue.factor("cold-sore").pk]},
    )
    screening = Screening.objects.get(session=session)
    assert response.url == screening.get_absolute_url()
    page = client.get(response.url).content.decode()
    assert "Refused: Active cold sore" in page
    assert "Proceed anyway" not in page
    override = reverse("treatments:screening_override", args=[screening.pk])
    response = client.post(
        override, {"override_category": "benefit", "override_reason": "The patient insists on it"}
    )
    assert response.status_code == 400
    assert "cannot be overridden" in response.content.decode()
    response = client.post(
        reverse("treatments:session_record", args=[session.pk]),
        {"depth_level": session.depth_level_id, "areas": [catalogue.area("face").pk]},
    )
    assert response.status_code == 400
    assert "Screening refused this session" in response.content.decode()


@time_machine.travel(at(TODAY, 9), tick=False)
def test_override_with_a_reason_then_record_shows_the_aftercare(
    client, clinician_user, alice_plan, catalogue
):
    session = alice_plan.sessions.get(number=1)
    arrive(session, timezone.now())
    client.force_login(clinician_user)
    client.post(
        reverse("treatments:session_screen", args=[session.pk]),
        {"present": [catalogue.factor("rosacea-flare").pk]},
    )
    screening = Screening.objects.get(session=session)
    page = client.get(screening.get_absolute_url()).content.decode()
    assert "Clinician decides: Rosacea flare" in page
    override = reverse("treatments:screening_override", args=[screening.pk])
    response = client.post(override, {"override_category": "mild", "override_reason": "  "})
    assert response.status_code == 400
    assert "Give the reason for proceeding despite the findings." in response.content.decode()
    response = client.post(override, {"override_category": "mild", "override_reason": "."})
    assert response.status_code == 400
    assert "Say in a sentence why you proceed" in response.content.decode()
    reason = "Mild flare on the chin, agreed with patient"
    response = client.post(override, {"override_category": "mild", "override_reason": reason})
    assert response.status_code == 302
    assert reason in client.get(response.url).content.decode()
    chart = client.get(reverse("treatments:chart", args=[session.patient_id])).content.decode()
    who = clinician_user.get_full_name() or clinician_user.username
    assert f"by {who}: Mild or localised" in chart and reason in chart

    record = reverse("treatments:session_record", args=[session.pk])
    form = {
        "depth_level": catalogue.level("microdermabrasion", 2).pk,
        "areas": [catalogue.area("face").pk, catalogue.area("neck").pk],
        "products": "Diamond tip",
        "notes": "Went well",
    }
    # Screened at the course's Level I: Level II was never screened.
    refused = client.post(record, form)
    assert refused.status_code == 400
    assert "screen the patient again for the level you use" in refused.content.decode()
    response = client.post(record, {**form, "depth_level": session.depth_level_id})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == Session.Status.COMPLETED
    detail = client.get(response.url).content.decode()
    assert "until 13 March: no retinoids" in detail
    assert "until 7 April: protect the skin from the sun" in detail


def test_record_form_refuses_a_level_of_another_modality(
    client, clinician_user, alice_plan, catalogue
):
    session = alice_plan.sessions.get(number=1)
    client.force_login(clinician_user)
    response = client.post(
        reverse("treatments:session_record", args=[session.pk]),
        {"depth_level": catalogue.level("laser_peel", 1).pk, "areas": [catalogue.area("face").pk]},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_changing_a_session_level_on_the_plan(client, clinician_user, alice_plan, catalogue):
    session = alice_plan.sessions.get(number=2)
    client.force_login(clinician_user)
    url = reverse("treatments:session_level", args=[session.pk])
    client.post(url, {"depth_level": catalogue.level("microdermabrasion", 2).pk})
    session.refresh_from_db()
    assert session.depth_level.name == "Level II"
    response = client.post(url, {"depth_level": catalogue.level("laser_peel", 1).pk}, follow=True)
    assert "is not a level of Microdermabrasion" in response.content.decode()
    session.refresh_from_db()
    assert session.depth_level.name == "Level II"


def test_the_chart_shows_a_window_of_the_latest_sessions(
    client, clinician_user, alice, alice_plan, monkeypatch
):
    monkeypatch.setattr("treatments.views.CHART_SESSIONS", 4)
    client.force_login(clinician_user)
    url = reverse("treatments:chart", args=[alice.pk])
    latest = client.get(url).content.decode()
    assert latest.count("Microdermabrasion · Face · ") == 4
    assert "Microdermabrasion · Face · 6<" in latest and "· Face · 2<" not in latest
    assert "?earlier=4" in latest and "Later sessions" not in latest
    earlier = client.get(url, {"earlier": 4}).content.decode()
    assert earlier.count("Microdermabrasion · Face · ") == 2
    assert "Microdermabrasion · Face · 1<" in earlier and "Later sessions" in earlier
    assert "Earlier sessions" not in earlier
    assert client.get(url, {"earlier": "x"}).status_code == 200
