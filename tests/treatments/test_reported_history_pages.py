"""The clinician's panel of what the patient reported, on the session's page: confirm, correct
(both versions kept), confirm all; refused to everyone else."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from audit.models import AuditEvent
from treatments import intake
from treatments.models import HistoryEntry, Intake

TODAY = datetime.date(2026, 11, 16)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(datetime.datetime(2026, 11, 16, 9, 0, tzinfo=datetime.UTC)):
        yield


@pytest.fixture
def reported(alice, catalogue, first_visit):
    """Alice's questionnaire: isotretinoin until two months ago, blood thinners, and a
    laser treatment elsewhere last month, sent once her first session was planned (planning
    after it would be refused: screening reads the answers at once)."""
    given = {
        "isotretinoin": {"ended_on": TODAY - datetime.timedelta(days=60)},
        "anticoagulants": {},
        "laser-ipl": {"started_on": TODAY - datetime.timedelta(days=30)},
    }
    intake.intake_submit(
        patient=alice,
        answers=[
            intake.Answer(factor=f, present=f.slug in given, **given.get(f.slug, {}))
            for f in intake.questions()
        ],
        skin_type="IV",
        goals=[catalogue.indication("acne-scars")],
        by=alice.user,
    )
    return {entry.factor.slug: entry for entry in HistoryEntry.objects.select_related("factor")}


@pytest.fixture
def first_visit(alice, make_plan):
    plan = make_plan(alice, "microdermabrasion", TODAY + datetime.timedelta(days=60))
    return plan.sessions.get(number=1)


def test_the_session_page_shows_the_panel_to_the_clinician_only(
    client, clinician_user, front_desk_user, reported, first_visit
):
    url = reverse("treatments:session_detail", args=[first_visit.pk])
    client.force_login(clinician_user)
    page = client.get(url).content.decode()
    assert "Patient-reported history" in page
    assert "Type IV: rarely burns" in page and "Acne scars" in page
    assert page.count("Not confirmed") == 3
    assert reverse("treatments:history_confirm", args=[reported["anticoagulants"].pk]) in page
    assert "Confirm all (3 answers waiting)" in page
    client.force_login(front_desk_user)
    assert "Patient-reported history" not in client.get(url).content.decode()


def test_confirm_one_answer_and_come_back_to_the_session(
    client, clinician_user, reported, first_visit
):
    client.force_login(clinician_user)
    back = reverse("treatments:session_detail", args=[first_visit.pk])
    entry = reported["anticoagulants"]
    response = client.post(reverse("treatments:history_confirm", args=[entry.pk]), {"next": back})
    assert response.status_code == 302 and response.url == back
    entry.refresh_from_db()
    assert entry.confirmed_by == clinician_user
    page = client.get(back).content.decode()
    assert "The patient&#x27;s answer is confirmed." in page
    assert f"Confirmed by {clinician_user.get_full_name()}" in page
    # Somewhere else than this site is no place to come back to.
    elsewhere = client.post(
        reverse("treatments:history_confirm", args=[entry.pk]), {"next": "https://evil.example/"}
    )
    assert elsewhere.url == reverse("treatments:chart", args=[entry.patient_id])


def test_correct_an_answer_keeps_both_and_screening_reads_the_correction(
    client, clinician_user, reported, first_visit, alice, catalogue
):
    client.force_login(clinician_user)
    entry = reported["isotretinoin"]
    url = reverse("treatments:history_correct", args=[entry.pk])
    form = client.get(url)
    assert form.status_code == 200
    assert form.context["form"]["ended_on"].value() == entry.ended_on
    refused = client.post(url, {"does_not_apply": "on"})
    assert refused.status_code == 400
    assert "Say why this does not apply" in refused.content.decode()
    bad_dates = client.post(url, {"started_on": "2025-06-01", "ended_on": "2025-01-01"})
    assert bad_dates.status_code == 400
    assert "The end date cannot be before the start date." in bad_dates.content.decode()
    assert HistoryEntry.objects.current().count() == 3  # nothing changed by a refusal

    back = reverse("treatments:session_detail", args=[first_visit.pk])
    done = client.post(
        url, {"ended_on": "2025-01-31", "reason": "stopped early 2025", "next": back}
    )
    assert done.status_code == 302 and done.url == back
    entry.refresh_from_db()
    assert entry.superseded_by == clinician_user and entry.ended_on == TODAY - datetime.timedelta(
        days=60
    )
    correction = entry.corrections.get()
    assert correction.ended_on == datetime.date(2025, 1, 31)
    page = client.get(back).content.decode()
    assert "Answers replaced" in page and "stopped early 2025" in page
    assert AuditEvent.objects.filter(actor=clinician_user, detail="report corrected").exists()
    # The chart shows the history as it stands: the correction, not the replaced answer.
    chart = client.get(reverse("treatments:chart", args=[alice.pk])).content.decode()
    assert "31 Jan 2025" in chart
    assert chart.count("reported by the patient") == 2


def test_confirm_all(client, clinician_user, reported, first_visit, alice):
    client.force_login(clinician_user)
    back = reverse("treatments:session_detail", args=[first_visit.pk])
    response = client.post(reverse("treatments:intake_confirm", args=[alice.pk]), {"next": back})
    assert response.status_code == 302
    assert not HistoryEntry.objects.filter(confirmed_at__isnull=True).exists()
    assert Intake.objects.get().confirmed_by == clinician_user
    again = client.post(reverse("treatments:intake_confirm", args=[alice.pk]), {"next": back})
    assert "confirmed already" in client.get(again.url).content.decode()


def test_patients_and_non_clinicians_are_refused_the_confirm_urls(
    client, alice, bob, front_desk_user, admin_user, reported
):
    entry = reported["anticoagulants"]
    urls = [
        reverse("treatments:history_confirm", args=[entry.pk]),
        reverse("treatments:history_correct", args=[entry.pk]),
        reverse("treatments:intake_confirm", args=[alice.pk]),
    ]
    for user in (alice.user, bob.user, front_desk_user, admin_user):
        client.force_login(user)
        for url in urls:
            response = client.post(url, {"does_not_apply": "on", "reason": "mine"})
            assert response.status_code == 403, (user, url)
        assert client.get(urls[1]).status_code == 403
    assert not HistoryEntry.objects.filter(confirmed_at__isnull=False).exists()
    assert HistoryEntry.objects.current().count() == 3
    refusals = AuditEvent.objects.filter(allowed=False, actor=alice.user)
    assert refusals.count() == 4
