"""Issue 17, observations 9-11: the day's questions, calendar windows, rules as data all the way.

9. The pre-session check asks every question that can change from day to day.
10. Windows in days, weeks or calendar months, with one boundary rule for all: a window of N
    units counts from the event's day through the day N units later (month ends clamped), so
    isotretinoin stopped on 31 August refuses through the end of February.
11. Refusal texts and patient instructions come from the rule's data; rule edits in the admin
    are audited with before and after; a used rule is retired, never deleted; past screenings
    and a completed session's aftercare stay as they were.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from audit.models import AuditEvent
from tests.records import arrive
from tests.treatments.conftest import at
from treatments import services
from treatments.aftercare import aftercare_for, aftercare_for_many
from treatments.forms import PreSessionCheckForm
from treatments.models import AftercareRule, Factor, Screening, ScreeningRule, Session
from treatments.screening import screen

LASER_RULE = "Laser or IPL in the last 7 days"
ISOTRETINOIN_RULE = "Isotretinoin in the last 6 months"


def run(patient, catalogue, kind, on, area="face", check=None):
    return screen(
        patient=patient,
        modality=catalogue.modality(kind),
        on=on,
        body_area=catalogue.area(area),
        check=check,
    )


def names(findings) -> list[str]:
    return [finding.rule_name for finding in findings]


# --- 9. the pre-session check asks the day's questions ------------------------------------------

DAY_TO_DAY = [
    "cold-sore",
    "tan",
    "sunburn",
    "waxing",
    "laser-ipl",
    "new-medicine",
    "pregnancy",
    "infection",
    "rosacea-flare",
]


def test_the_pre_session_check_asks_every_day_to_day_question(catalogue):
    asked = set(Factor.objects.filter(in_pre_session_check=True).values_list("slug", flat=True))
    assert set(DAY_TO_DAY) <= asked
    form_choices = {factor.slug for factor in PreSessionCheckForm().fields["present"].queryset}
    assert set(DAY_TO_DAY) <= form_choices


def test_the_check_page_lists_the_new_questions_with_their_windows(
    client, alice, make_plan, clinician_user
):
    session = make_plan(alice, "microdermabrasion", datetime.date(2026, 3, 20)).sessions.first()
    client.force_login(clinician_user)
    html = client.get(reverse("treatments:session_detail", args=[session.pk])).content.decode()
    assert "Laser or IPL treatment elsewhere (in the last 7 days)" in html
    assert "New medicine since the last visit" in html
    for slug in DAY_TO_DAY:
        assert Factor.objects.get(slug=slug).name in html


@time_machine.travel(at(datetime.date(2026, 3, 20), 9), tick=False)
def test_laser_elsewhere_ticked_in_the_check_refuses_microdermabrasion_not_needling(
    alice, make_plan, catalogue, clinician_user
):
    micro = make_plan(alice, "microdermabrasion", datetime.date(2026, 3, 20)).sessions.first()
    arrive(micro, at(datetime.date(2026, 3, 20), 10))
    screening = services.session_check_and_screen(
        session=micro, present=[catalogue.factor("laser-ipl")], by=clinician_user
    )
    assert screening.outcome == Screening.Outcome.BLOCKED
    assert [f.rule_name for f in screening.findings.all()] == [LASER_RULE]
    assert "within 7 days" in screening.findings.get().reason

    needling = make_plan(
        alice, "microneedling", datetime.date(2026, 3, 20), area="back"
    ).sessions.first()
    arrive(needling, at(datetime.date(2026, 3, 20), 14))
    screening = services.session_check_and_screen(
        session=needling, present=[catalogue.factor("laser-ipl")], by=clinician_user
    )
    assert screening.outcome == Screening.Outcome.CLEAR


@time_machine.travel(at(datetime.date(2026, 3, 20), 9), tick=False)
def test_a_new_medicine_ticked_in_the_check_is_for_the_clinician_to_decide(
    alice, make_plan, catalogue, clinician_user
):
    session = make_plan(alice, "laser_peel", datetime.date(2026, 3, 20)).sessions.first()
    arrive(session, at(datetime.date(2026, 3, 20), 10))
    screening = services.session_check_and_screen(
        session=session, present=[catalogue.factor("new-medicine")], by=clinician_user
    )
    assert screening.outcome == Screening.Outcome.RELATIVE
    assert screening.findings.get().severity == "relative"


# --- 10. calendar windows, one boundary rule -------------------------------------------------


def test_the_seeded_isotretinoin_rule_is_six_calendar_months(catalogue):
    rule = ScreeningRule.objects.get(name=ISOTRETINOIN_RULE)
    assert (rule.window, rule.window_unit) == (6, ScreeningRule.Unit.MONTHS)
    assert rule.window_text == "6 months"


@pytest.mark.parametrize(
    ("stopped", "last_refused"),
    [
        (datetime.date(2025, 8, 31), datetime.date(2026, 2, 28)),  # to the end of February
        (datetime.date(2027, 8, 31), datetime.date(2028, 2, 29)),  # a leap year's February
        (datetime.date(2025, 9, 8), datetime.date(2026, 3, 8)),  # the same date, 6 months on
        (datetime.date(2025, 10, 25), datetime.date(2026, 4, 25)),  # across both DST changes
    ],
)
def test_isotretinoin_stopped_refuses_through_the_calendar_date_six_months_on(
    alice, catalogue, stopped, last_refused
):
    services.history_add(
        patient=alice,
        factor=catalogue.factor("isotretinoin"),
        started_on=datetime.date(2025, 1, 1),
        ended_on=stopped,
    )
    refused = run(alice, catalogue, "laser_peel", on=last_refused)
    assert names(refused) == [ISOTRETINOIN_RULE]
    assert "within 6 months" in refused[0].reason
    assert run(alice, catalogue, "laser_peel", on=last_refused + datetime.timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("window", "unit", "last_refused"),
    [
        (14, "days", datetime.date(2026, 3, 15)),
        (2, "weeks", datetime.date(2026, 3, 15)),
        (1, "months", datetime.date(2026, 4, 1)),
    ],
)
def test_every_unit_counts_the_event_day_through_n_units_later(
    alice, catalogue, window, unit, last_refused
):
    """Waxed on 1 March (the event day counts): a window of N units refuses through the day N
    units later (1 month: 1 April) and allows the day after, whatever the unit."""
    rule = ScreeningRule.objects.get(factor__slug="waxing")
    rule.window, rule.window_unit = window, unit
    rule.save()
    waxed = datetime.date(2026, 3, 1)
    services.history_add(patient=alice, factor=catalogue.factor("waxing"), started_on=waxed)
    for day in (waxed, last_refused):
        assert names(run(alice, catalogue, "microdermabrasion", on=day)) == [rule.name]
    after = last_refused + datetime.timedelta(days=1)
    assert run(alice, catalogue, "microdermabrasion", on=after) == []
    assert (
        f"within {rule.window_text}" in run(alice, catalogue, "microdermabrasion", waxed)[0].reason
    )


# --- 11. texts from the rule's data ------------------------------------------------------------


def test_a_window_edited_from_7_to_14_days_says_so_and_refuses_on_day_14(alice, catalogue):
    day = datetime.date(2026, 3, 20)
    services.history_add(
        patient=alice,
        factor=catalogue.factor("laser-ipl"),
        started_on=day - datetime.timedelta(days=14),
    )
    assert run(alice, catalogue, "microdermabrasion", on=day) == []
    rule = ScreeningRule.objects.get(name=LASER_RULE)
    rule.window = 14
    rule.save()
    [finding] = run(alice, catalogue, "microdermabrasion", on=day)
    assert "within 14 days" in finding.reason
    assert "7 days" not in finding.reason
    assert run(alice, catalogue, "microdermabrasion", on=day + datetime.timedelta(days=1)) == []


def test_the_booking_instructions_take_their_windows_from_the_rules(alice, make_plan, catalogue):
    from scheduling.notifications import instructions

    session = make_plan(alice, "microdermabrasion", datetime.date(2026, 3, 23)).sessions.first()
    session.starts_at = at(datetime.date(2026, 3, 23), 10)
    lines = instructions(session)
    assert "From Monday 16 March 2026: no waxing in the treated area" in " ".join(lines)
    assert "no laser or IPL treatment" in " ".join(lines)
    assert "From Monday 9 March 2026: no tanning or sunbathing" in " ".join(lines)

    waxing = ScreeningRule.objects.get(factor__slug="waxing")
    waxing.window, waxing.window_unit = 3, ScreeningRule.Unit.WEEKS
    waxing.save()
    ScreeningRule.objects.filter(name=LASER_RULE).update(active=False)
    text = " ".join(instructions(session))
    assert "From Monday 2 March 2026: no waxing in the treated area" in text
    assert "laser" not in text  # a retired rule asks nothing of the patient


def test_the_booking_email_shows_the_window_from_the_rule(alice, make_plan, catalogue, mailoutbox):
    from scheduling.notifications import send_booking_confirmation

    ScreeningRule.objects.filter(factor__slug="waxing").update(window=10)
    session = make_plan(alice, "microdermabrasion", datetime.date(2026, 3, 23)).sessions.first()
    Session.objects.filter(pk=session.pk).update(
        status=Session.Status.BOOKED,
        starts_at=at(datetime.date(2026, 3, 23), 10),
        ends_at=at(datetime.date(2026, 3, 23), 11),
    )
    session.refresh_from_db()
    assert send_booking_confirmation([session])
    [mail] = mailoutbox
    assert "From Friday 13 March 2026: no waxing in the treated area" in mail.body
    assert "From Monday 16 March 2026: no waxing" not in mail.body


def test_past_screenings_keep_their_findings_as_decided(
    alice, catalogue, make_plan, clinician_user
):
    day = datetime.date(2026, 3, 20)
    session = make_plan(alice, "microdermabrasion", day).sessions.get(number=1)
    with time_machine.travel(at(day, 9), tick=False):
        arrive(session, at(day, 9))
        screening = services.session_check_and_screen(
            session=session, present=[catalogue.factor("laser-ipl")], by=clinician_user
        )
    stored = screening.findings.get()
    before = (stored.rule_name, stored.severity, stored.reason)
    rule = ScreeningRule.objects.get(name=LASER_RULE)
    rule.name, rule.window, rule.severity = "Laser recently", 14, "relative"
    rule.reason = "Laser: think twice."
    rule.save()
    stored.refresh_from_db()
    assert (stored.rule_name, stored.severity, stored.reason) == before
    assert "within 7 days" in stored.reason


# --- 11. a completed session's aftercare is frozen ------------------------------------------


def _record(session, moment, by):
    with time_machine.travel(moment, tick=False):
        arrive(session, moment)
        services.session_check_and_screen(session=session, present=[], by=by)
        return services.session_record(session=session, by=by)


def test_editing_an_aftercare_rule_leaves_a_completed_sessions_instructions_unchanged(
    alice, make_plan, clinician_user, client
):
    moment = at(datetime.date(2026, 3, 2), 10)
    session = make_plan(alice, "microdermabrasion", moment.date(), session_count=1)
    session = _record(session.sessions.get(), moment, clinician_user)
    before = aftercare_for(session)
    assert any(i.text == "no retinoids" and i.until == datetime.date(2026, 3, 5) for i in before)

    AftercareRule.objects.filter(text="no retinoids").update(days=10, text="no retinoids at all")
    AftercareRule.objects.create(text="a rule added later", days=5)
    session = Session.objects.select_related("plan").get(pk=session.pk)
    assert aftercare_for(session) == before
    assert aftercare_for_many([session]) == {session.pk: before}

    client.force_login(alice.user)
    with time_machine.travel(at(datetime.date(2026, 3, 3), 9), tick=False):
        html = client.get(reverse("portal:session", args=[session.pk])).content.decode()
    assert "Retinoids again from Friday 6 March" in html  # "no retinoids" until 5 March
    assert "retinoids at all" not in html
    assert "rule added later" not in html


# --- 11. rule edits in the admin: audited, and a used rule is retired, never deleted ------------


def _change(client, model: str, obj, **changes):
    """POSTs the admin change form of `obj` with its current values and `changes`."""
    url = reverse(f"admin:treatments_{model}_change", args=[obj.pk])
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if hasattr(value, "__iter__") and not isinstance(value, str):
            value = [getattr(v, "pk", v) for v in value]
        elif hasattr(value, "pk"):
            value = value.pk
        data[name] = "" if value is None else value
    for name, value in list(data.items()):
        if value is False:
            del data[name]
        elif value is True:
            data[name] = "on"
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return client.post(url, data)


def test_a_window_edit_in_the_admin_is_audited_with_before_and_after(client, admin_user):
    client.force_login(admin_user)
    rule = ScreeningRule.objects.get(name=LASER_RULE)
    response = _change(client, "screeningrule", rule, window=14, window_unit="days")
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.window == 14
    event = AuditEvent.objects.get(object_type="treatments.ScreeningRule", object_id=str(rule.pk))
    assert event.action == AuditEvent.Action.CHANGE
    assert event.actor == admin_user
    assert "window: 7 → 14" in event.detail


def test_aftercare_and_factor_edits_in_the_admin_are_audited(client, admin_user):
    client.force_login(admin_user)
    rule = AftercareRule.objects.get(text="no retinoids")
    assert _change(client, "aftercarerule", rule, days=5).status_code == 302
    event = AuditEvent.objects.get(object_type="treatments.AftercareRule", object_id=str(rule.pk))
    assert "days: 3 → 5" in event.detail

    factor = Factor.objects.get(slug="keloid")
    assert _change(client, "factor", factor, in_pre_session_check=True).status_code == 302
    event = AuditEvent.objects.get(object_type="treatments.Factor", object_id=str(factor.pk))
    assert "in_pre_session_check: False → True" in event.detail


@time_machine.travel(at(datetime.date(2026, 3, 20), 9), tick=False)
def test_a_used_rule_cannot_be_deleted_and_retiring_it_is_audited(
    client, admin_user, alice, make_plan, catalogue, clinician_user
):
    session = make_plan(alice, "microdermabrasion", datetime.date(2026, 3, 20)).sessions.first()
    arrive(session, at(datetime.date(2026, 3, 20), 10))
    services.session_check_and_screen(
        session=session, present=[catalogue.factor("cold-sore")], by=clinician_user
    )
    rule = ScreeningRule.objects.get(name="Active cold sore")
    client.force_login(admin_user)

    url = reverse("admin:treatments_screeningrule_delete", args=[rule.pk])
    page = client.get(url).content.decode()
    assert "has been used by screenings" in page
    assert "retire it" in page
    client.post(url, {"post": "yes"})
    assert ScreeningRule.objects.filter(pk=rule.pk).exists()
    changelist = reverse("admin:treatments_screeningrule_changelist")
    client.post(
        changelist, {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"}
    )
    assert ScreeningRule.objects.filter(pk=rule.pk).exists()
    assert not AuditEvent.objects.filter(
        object_type="treatments.ScreeningRule", action=AuditEvent.Action.DELETE
    ).exists()

    assert _change(client, "screeningrule", rule, active=False).status_code == 302
    rule.refresh_from_db()
    assert not rule.active and rule.retired_at is not None
    event = AuditEvent.objects.get(object_type="treatments.ScreeningRule", object_id=str(rule.pk))
    assert "active: True → False" in event.detail
    # Retired: the engine no longer reads it, and the screening made under it keeps its finding.
    history = services.history_add(
        patient=alice, factor=catalogue.factor("cold-sore"), started_on=datetime.date(2026, 3, 19)
    )
    assert run(alice, catalogue, "microneedling", on=history.started_on, area="neck") == []
    assert session.screenings.get().findings.get().rule_name == "Active cold sore"


def test_an_unused_rule_may_be_deleted_and_the_deletion_is_audited(client, admin_user):
    rule = ScreeningRule.objects.get(name="Rosacea flare")
    client.force_login(admin_user)
    url = reverse("admin:treatments_screeningrule_delete", args=[rule.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not ScreeningRule.objects.filter(pk=rule.pk).exists()
    event = AuditEvent.objects.get(object_type="treatments.ScreeningRule", object_id=str(rule.pk))
    assert event.action == AuditEvent.Action.DELETE
    assert "Rosacea flare" in event.detail


# --- the same through the API -------------------------------------------------------------


@time_machine.travel(at(datetime.date(2026, 3, 20), 9), tick=False)
def test_the_api_check_takes_the_new_questions(client, alice, make_plan, catalogue, clinician_user):
    session = make_plan(alice, "microdermabrasion", datetime.date(2026, 3, 20)).sessions.first()
    arrive(session, at(datetime.date(2026, 3, 20), 10))
    client.force_login(clinician_user)
    present = [catalogue.factor("laser-ipl").pk, catalogue.factor("new-medicine").pk]
    response = client.post(
        f"/api/sessions/{session.pk}/screen/", {"present": present}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    screening = response.json()
    assert screening["outcome"] == "blocked"
    found = {f["rule_name"]: f for f in screening["findings"]}
    assert found[LASER_RULE]["severity"] == "absolute"
    assert "within 7 days" in found[LASER_RULE]["reason"]
    assert found["New medicine since the last visit"]["severity"] == "relative"


def test_the_api_lists_windows_with_their_unit(client, admin_user):
    client.force_login(admin_user)
    rules = client.get("/api/screening-rules/", {"page_size": 100}).json()["results"]
    found = {rule["name"]: rule for rule in rules}
    isotretinoin = found[ISOTRETINOIN_RULE]
    assert (isotretinoin["window"], isotretinoin["window_unit"]) == (6, "months")
    assert isotretinoin["window_text"] == "6 months"


def test_the_api_aftercare_of_a_completed_session_does_not_follow_rule_edits(
    client, alice, make_plan, clinician_user
):
    moment = at(datetime.date(2026, 3, 2), 10)
    session = make_plan(alice, "laser_resurfacing", moment.date(), session_count=1)
    session = _record(session.sessions.get(), moment, clinician_user)
    client.force_login(clinician_user)
    url = f"/api/sessions/{session.pk}/aftercare/"
    before = client.get(url).json()
    AftercareRule.objects.filter(text__startswith="do not pick").update(days=21)
    assert client.get(url).json() == before
    assert {"text": "do not pick the crusts; keep them moist", "until": "2026-03-09"} in before
