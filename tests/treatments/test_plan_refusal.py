"""Observation 6 of issue 17: planning refuses an absolute finding, with the reason and the first
possible start date, through the service, the API (400 with the screening) and the page."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from treatments import services
from treatments.models import Screening, TreatmentPlan

from .conftest import INDICATION_FOR, at

TODAY = datetime.date(2026, 3, 10)
D = datetime.timedelta


# Each seeded absolute rule, fired on TODAY by one history line; the modality it concerns; and
# the first start day it allows (None: it lasts until the history says it has ended).
ABSOLUTE_RULES = [
    # (rule, factor, started, ended, modality, first possible)
    ("Active cold sore", "cold-sore", TODAY, TODAY + D(3), "microdermabrasion", TODAY + D(4)),
    (
        "Laser or IPL in the last 7 days",
        "laser-ipl",
        TODAY - D(3),
        None,
        "microdermabrasion",
        TODAY + D(5),
    ),
    (
        "Waxing of the area in the last 7 days",
        "waxing",
        TODAY - D(2),
        None,
        "microdermabrasion",
        TODAY + D(6),
    ),
    ("Deep tan or sunbathing", "tan", TODAY - D(5), None, "microdermabrasion", TODAY + D(10)),
    ("Sunburn", "sunburn", TODAY - D(1), TODAY + D(2), "microdermabrasion", TODAY + D(3)),
    (
        "Isotretinoin in the last 6 months",
        "isotretinoin",
        TODAY - D(90),
        TODAY - D(30),
        "microdermabrasion",
        "later",  # some months on; the window's own arithmetic is another observation's test
    ),
    ("Pregnancy", "pregnancy", TODAY - D(60), None, "laser_peel", None),
    ("Active infection", "infection", TODAY, TODAY + D(9), "microneedling", TODAY + D(10)),
]


def _plan(patient, catalogue, kind, first_date, by):
    return services.plan_create(
        patient=patient,
        indication=catalogue.indication(INDICATION_FOR[kind]),
        body_area=catalogue.area("face"),
        modality=catalogue.modality(kind),
        first_date=first_date,
        session_count=3,
        by=by,
    )


def _history(patient, catalogue, factor, started, ended, by):
    services.history_add(
        patient=patient,
        factor=catalogue.factor(factor),
        started_on=started,
        ended_on=ended,
        body_area=catalogue.area("face"),
        by=by,
    )


@pytest.mark.parametrize(
    ("rule", "factor", "started", "ended", "kind", "first"),
    ABSOLUTE_RULES,
    ids=[row[0] for row in ABSOLUTE_RULES],
)
@time_machine.travel(at(TODAY, 9), tick=False)
def test_every_absolute_rule_refuses_the_plan_with_its_reason_and_first_date(
    alice, catalogue, clinician_user, rule, factor, started, ended, kind, first
):
    _history(alice, catalogue, factor, started, ended, clinician_user)
    with pytest.raises(services.PlanRefused) as refused:
        _plan(alice, catalogue, kind, TODAY, clinician_user)
    error = refused.value
    assert isinstance(error, ValidationError)
    assert not TreatmentPlan.objects.exists()
    assert [finding.rule_name for finding in error.findings if finding.is_absolute] == [rule]
    assert error.screening.outcome == Screening.Outcome.BLOCKED  # the refusal is on record
    assert error.screening.plan is None
    message = " ".join(error.messages)
    assert "Refused by screening" in message
    if first is None:
        assert error.first_possible is None
        assert "no start date can be given while it lasts" in message
        return
    if first != "later":
        assert error.first_possible == first
    assert f"{error.first_possible:%-d %B %Y}" in message
    # The date given is exact: the day before is refused, that day is planned.
    with pytest.raises(services.PlanRefused):
        _plan(alice, catalogue, kind, error.first_possible - D(1), clinician_user)
    plan = _plan(alice, catalogue, kind, error.first_possible, clinician_user)
    assert plan.sessions.get(number=1).proposed_date == error.first_possible


@time_machine.travel(at(TODAY, 9), tick=False)
def test_a_relative_finding_does_not_refuse_a_plan(alice, catalogue, clinician_user):
    _history(alice, catalogue, "rosacea-flare", TODAY, None, clinician_user)
    plan = _plan(alice, catalogue, "microdermabrasion", TODAY, clinician_user)
    assert plan.screenings.get().outcome == Screening.Outcome.RELATIVE


@time_machine.travel(at(TODAY, 9), tick=False)
def test_the_api_answers_400_with_the_reason_the_first_date_and_the_screening(
    client, alice, catalogue, clinician_user
):
    _history(alice, catalogue, "waxing", TODAY - D(2), None, clinician_user)
    client.force_login(clinician_user)
    payload = {
        "patient": alice.pk,
        "indication": catalogue.indication("dull-dry-rough-skin").pk,
        "body_area": catalogue.area("face").pk,
        "modality": catalogue.modality("microdermabrasion").pk,
        "first_date": TODAY.isoformat(),
    }
    response = client.post("/api/plans/", payload, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert "No treatment where the skin was waxed" in body["non_field_errors"][0]
    assert body["first_possible_date"] == "2026-03-16"
    assert body["reasons"] == [body["screening"]["findings"][0]["reason"]]
    assert body["screening"]["outcome"] == "blocked"
    assert body["screening"]["findings"][0]["rule_name"] == "Waxing of the area in the last 7 days"
    assert not TreatmentPlan.objects.exists()

    response = client.post(
        "/api/plans/", {**payload, "first_date": "2026-03-16"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["screening"]["outcome"] == "clear"
    assert response.json()["screening"]["screened_for"] == "2026-03-16"


@time_machine.travel(at(TODAY, 9), tick=False)
def test_the_page_shows_the_reason_and_the_first_possible_date(
    client, alice, catalogue, clinician_user
):
    _history(alice, catalogue, "tan", TODAY - D(5), None, clinician_user)
    client.force_login(clinician_user)
    response = client.post(
        reverse("treatments:plan_create", args=[alice.pk]),
        {
            "indication": catalogue.indication("dull-dry-rough-skin").pk,
            "modality": catalogue.modality("microdermabrasion").pk,
            "body_area": catalogue.area("face").pk,
            "first_date": TODAY.isoformat(),
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Deep tan or sunbathing: no treatment." in page
    assert "Friday 20 March 2026" in page
    assert not TreatmentPlan.objects.exists()
