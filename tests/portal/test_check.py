"""The patient's check before a session in the portal: the catalogue's questions, a clear
message for wrong input, a kind word and other times when an answer means we must talk."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from tests.portal.conftest import AMS, make_course
from tests.scheduling.factories import PractitionerFactory, RoomFactory
from treatments.models import Factor, Modality, PreSessionCheck, Session

# Saturday 21 March 2026, 10:00: two days before session 4 (Monday 23 March, 10:00).
ANSWERED = dt.datetime(2026, 3, 21, 10, 0, tzinfo=AMS)


@pytest.fixture
def session(time_machine, alice, clinician_user, client):
    time_machine.move_to(ANSWERED, tick=False)
    clinician_user.first_name = "Carla"
    clinician_user.save()
    micro = Modality.objects.get(kind="microdermabrasion")
    PractitionerFactory(user=clinician_user, modalities=[micro])
    RoomFactory(name="Room 1")
    plan = make_course(alice, practitioner=clinician_user)
    client.force_login(alice.user)
    return plan.sessions.get(number=4)


def url(session) -> str:
    return reverse("portal:session_check", args=[session.pk])


def form_data(session, **yes) -> dict[str, str]:
    """No to every question the page asks, yes (with the day, if given) to the slugs named
    with underscores."""
    from treatments.services import patient_check_factors

    data = {}
    for factor in patient_check_factors(session):
        key = factor.slug.replace("-", "_")
        data[factor.slug] = "yes" if key in yes else "no"
        if key in yes and yes[key]:
            data[f"{factor.slug}-day"] = yes[key]
    return data


def test_the_page_asks_the_catalogues_questions_in_plain_words(client, session):
    Factor.objects.filter(slug="tan").update(patient_question="Been in the sun a lot lately?")
    page = client.get(url(session)).content.decode()
    assert "Before your session on Monday 23 March at 10:00" in page
    assert "Do you have a cold sore (on the lips or the face)?" in page
    assert "Been in the sun a lot lately?" in page
    assert "Are you pregnant" not in page  # no rule about it concerns microdermabrasion


def test_a_cold_sore_gets_a_kind_word_the_clinics_number_and_other_times(client, session, settings):
    response = client.post(url(session), form_data(session, cold_sore="2026-03-20"))
    assert response.status_code == 302 and response["Location"] == url(session)
    page = client.get(url(session)).content.decode()
    assert "we would like to have a quick word with you" in page
    assert settings.CLINIC_PHONE in page
    for jargon in ("Refused", "absolute", "contraindication", "screening", "herpes"):
        assert jargon not in page.split("Your answers of")[0], jargon
    # Three free times from the day the cold sore would have healed (Monday 30 March), one a day.
    for day in ("Monday 30 March", "Tuesday 31 March", "Wednesday 1 April"):
        assert f"Move to {day} at 09:00" in page, day
    assert page.count(f'href="{reverse("portal:session_move", args=[session.pk])}?start=') == 3
    session.refresh_from_db()
    assert session.flag == Session.Flag.BLOCKED


def test_choosing_another_time_moves_the_session_there(client, session):
    client.post(url(session), form_data(session, cold_sore="2026-03-20"))
    page = client.get(url(session)).content.decode()
    move_url = html.unescape(page.split('class="button" href="')[1].split('"')[0])
    confirm = client.get(move_url)
    assert confirm.status_code == 200, confirm.content.decode()[:2000]
    chosen = confirm.content.decode()
    assert "Monday 30 March" in chosen and "09:00" in chosen
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', chosen))
    fields.pop("csrfmiddlewaretoken", None)
    moved = client.post(move_url.split("?")[0], fields)
    assert moved.status_code == 302, moved.content.decode()[:2000]
    session.refresh_from_db()
    assert timezone.localtime(session.starts_at).date() == dt.date(2026, 3, 30)


def test_a_relative_answer_thanks_the_patient_without_a_call(client, session):
    client.post(url(session), form_data(session, new_medicine="2026-03-01"))
    page = client.get(url(session)).content.decode()
    assert "Your clinician will go through your answers with you" in page
    assert "quick word" not in page and "Ask for" not in page
    session.refresh_from_db()
    assert session.flag == Session.Flag.NONE


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"waxing": "yes"}, "waxing-day", "Please give the day"),
        ({"waxing": "yes", "waxing-day": "2026-03-22"}, "waxing-day", "still to come"),
        ({"waxing": "yes", "waxing-day": "22 March"}, "waxing-day", "valid date"),
        ({"waxing": ""}, "waxing", "Please answer yes or no"),
        ({"waxing": "maybe"}, "waxing", "Select a valid choice"),
    ],
    ids=["missing day", "future day", "not a date", "unanswered", "not yes or no"],
)
def test_wrong_answers_get_a_clear_message_and_nothing_is_saved(
    client, session, change, field, says
):
    response = client.post(url(session), {**form_data(session), **change})
    assert response.status_code == 400
    assert says in response.content.decode()
    assert response.context["form"].errors[field]
    assert not PreSessionCheck.objects.exists()


def test_a_session_not_ahead_has_nothing_to_answer(client, session):
    done = session.plan.sessions.get(number=3)
    response = client.get(url(done))
    assert response.status_code == 200
    assert "nothing to answer" in response.content.decode()
    assert client.post(url(done), form_data(session)).status_code == 400
    assert not PreSessionCheck.objects.exists()


def test_each_look_and_each_answer_is_audited(client, session, alice):
    client.get(url(session))
    look = AuditEvent.objects.filter(detail="portal pre-session check").get()
    assert (look.patient_id, look.actor_id, look.allowed) == (alice.pk, alice.user_id, True)
    client.post(url(session), form_data(session, cold_sore="2026-03-20"))
    assert AuditEvent.objects.filter(
        actor=alice.user, patient_id=alice.pk, detail__startswith="patient's answers"
    ).exists()


def test_the_pages_queries_are_bounded(client, session, django_assert_max_num_queries):
    client.post(url(session), form_data(session, cold_sore="2026-03-20"))
    # Sign-in and audit, the session, the questions and their rules, the patient's answers,
    # the screening data and the search for free times: a fixed number, whatever the history.
    with django_assert_max_num_queries(40):  # 33 measured
        client.get(url(session))
