"""The health questionnaire in the portal: asked from the catalogue, wrong dates refused with the
reason and nothing typed lost, changeable until a clinician confirms it, only ever one's own."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from audit.models import AuditEvent
from treatments import intake
from treatments.models import BodyArea, Factor, HistoryEntry, Indication, Intake

TODAY = datetime.date(2026, 11, 16)
URL = "/portal/intake/"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(datetime.datetime(2026, 11, 16, 9, 0, tzinfo=datetime.UTC)):
        yield


def factor(slug: str) -> Factor:
    return Factor.objects.get(slug=slug)


def answers(**given) -> dict:
    """The form as a patient sends it: "no" to every question but those given (slug: dates)."""
    data = {
        "skin_type": "II",
        "goals": [Indication.objects.get(slug="acne-scars").pk],
        "goal_areas": [BodyArea.objects.get(slug="face").pk],
        "goals_note": "the scars on my cheeks",
    }
    for question in Factor.objects.filter(in_intake=True):
        key = f"f{question.pk}"
        data[f"{key}-present"] = "yes" if question.slug in given else "no"
        for name, value in given.get(question.slug, {}).items():
            data[f"{key}-{name}"] = value
    return data


def test_the_url_has_no_id():
    assert reverse("portal:intake") == URL


def test_the_form_asks_the_catalogues_questions(client, alice):
    client.force_login(alice.user)
    page = client.get(URL).content.decode()
    assert "Are you pregnant, or could you be?" in page
    assert "Have you had a laser or IPL treatment elsewhere?" in page
    assert "New medicine since the last visit" not in page
    assert "Type VI: never burns" in page and "Acne scars" in page
    # The catalogue is data: an admin's new question shows up, one taken out goes.
    Factor.objects.filter(slug="rosacea-flare").update(in_intake=True, intake_question="Rosacea?")
    Factor.objects.filter(slug="keloid").update(in_intake=False)
    page = client.get(URL).content.decode()
    assert "Rosacea?" in page and "keloid" not in page
    assert AuditEvent.objects.filter(patient_id=alice.pk, detail="portal intake").exists()


def test_sending_it_makes_history_that_screening_reads_and_the_home_page_says_so(client, alice):
    client.force_login(alice.user)
    home = client.get(reverse("portal:home")).content.decode()
    assert "Fill in my health questionnaire" in home
    sent = client.post(
        URL,
        answers(
            isotretinoin={"started_on": "2026-01-05", "ended_on": "2026-08-31"},
            waxing={"started_on": "2026-11-14", "body_area": BodyArea.objects.get(slug="neck").pk},
        ),
    )
    assert sent.status_code == 302 and sent.url == reverse("portal:home")
    iso, wax = HistoryEntry.objects.order_by("factor__slug")
    assert (iso.factor.slug, iso.ended_on, iso.source) == (
        "isotretinoin",
        datetime.date(2026, 8, 31),
        "patient",
    )
    assert (wax.started_on, wax.body_area.slug) == (datetime.date(2026, 11, 14), "neck")
    filled = Intake.objects.get()
    assert filled.skin_type == "II" and filled.goals_note == "the scars on my cheeks"
    home = client.get(reverse("portal:home")).content.decode()
    assert "Sent on Monday 16 November" in home and "change your answers" in home
    assert "Fill in my health questionnaire" not in home
    # The form comes back as the patient left it.
    again = client.get(URL)
    form = again.context["form"]
    assert form[f"f{iso.factor_id}-present"].value() == "yes"
    assert form[f"f{iso.factor_id}-ended_on"].value() == datetime.date(2026, 8, 31)
    assert form[f"f{factor('pregnancy').pk}-present"].value() == "no"


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"laser-ipl": {"started_on": "2026-11-20"}}, "started_on", "cannot start in the future"),
        (
            {"isotretinoin": {"started_on": "2026-05-01", "ended_on": "2026-04-01"}},
            "ended_on",
            "The end date cannot be before the start date.",
        ),
        ({"peel": {}}, "started_on", "Give the day it happened."),
        ({"laser-ipl": {"started_on": "2026-02-31"}}, "started_on", "Enter a valid date."),
        ({"anticoagulants": {"started_on": "1900-01-01"}}, "started_on", "before the patient"),
    ],
)
def test_wrong_dates_answer_400_with_the_reason_by_the_question(
    client, alice, given, field, message
):
    alice.date_of_birth = datetime.date(1980, 1, 1)
    alice.save()
    client.force_login(alice.user)
    response = client.post(URL, answers(**given))
    assert response.status_code == 400
    (slug,) = given
    errors = response.context["form"].errors[f"f{factor(slug).pk}-{field}"]
    assert message in " ".join(errors)
    body = response.content.decode()
    assert "the scars on my cheeks" in body  # nothing typed is lost
    assert not HistoryEntry.objects.exists() and not Intake.objects.exists()


def test_unanswered_questions_and_a_date_with_no_are_pointed_out(client, alice):
    client.force_login(alice.user)
    data = answers()
    del data[f"f{factor('pregnancy').pk}-present"]
    del data["skin_type"]
    data[f"f{factor('tan').pk}-started_on"] = "2026-11-01"
    response = client.post(URL, data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors[f"f{factor('pregnancy').pk}-present"] == ["Answer yes or no."]
    assert errors["skin_type"] == ["Choose the skin type that fits you best."]
    assert errors[f"f{factor('tan').pk}-present"] == [
        "You gave a date: answer yes, or clear the date."
    ]
    assert 'value="2026-11-01"' in response.content.decode()


def test_once_confirmed_the_questionnaire_is_read_only(client, alice, clinician_user):
    client.force_login(alice.user)
    client.post(URL, answers(anticoagulants={}))
    intake.intake_confirm(intake=Intake.objects.get(), by=clinician_user)
    page = client.get(URL)
    assert page.status_code == 200
    assert "went through your answers with you" in page.content.decode()
    assert "Send my answers" not in page.content.decode()
    refused = client.post(URL, answers())
    assert refused.status_code == 400
    assert HistoryEntry.objects.current().count() == 1 and Intake.objects.count() == 1
    assert "health questionnaire" not in client.get(reverse("portal:home")).content.decode()


def test_each_patient_reads_and_sends_only_their_own(client, alice, bob):
    client.force_login(alice.user)
    client.post(URL, answers(pregnancy={"started_on": "2026-09-01"}))
    client.force_login(bob.user)
    form = client.get(URL).context["form"]
    assert form[f"f{factor('pregnancy').pk}-present"].value() is None
    client.post(URL, answers(keloid={}))
    assert {e.patient_id for e in HistoryEntry.objects.filter(factor__slug="keloid")} == {bob.pk}
    assert {e.patient_id for e in HistoryEntry.objects.filter(factor__slug="pregnancy")} == {
        alice.pk
    }


def test_staff_and_visitors_have_no_questionnaire(client, clinician_user):
    assert client.get(URL).status_code == 302
    client.force_login(clinician_user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {}).status_code == 403


def test_the_page_takes_the_same_queries_however_often_it_was_sent(
    client, alice, django_assert_max_num_queries
):
    client.force_login(alice.user)
    client.post(URL, answers(keloid={}))
    with django_assert_max_num_queries(30) as first:
        assert client.get(URL).status_code == 200
    small = len(first.captured_queries)  # read now: each request clears Django's query log
    for ended in ("2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"):
        client.post(URL, answers(keloid={}, isotretinoin={"ended_on": ended}, anticoagulants={}))
    # session, user, permissions, the patient, the latest questionnaire with its goals, areas
    # and "no" answers, the questions with their area rules, the current reports, the
    # indications and areas to choose from (and the area of each question that asks where),
    # then the audit writes: none of it grows with the answers sent before.
    with django_assert_max_num_queries(small):
        assert client.get(URL).status_code == 200
