"""The screening rules engine, without HTTP: each rule kind, windows at their edges, data-driven."""

from __future__ import annotations

import datetime

import pytest

from treatments.models import PreSessionCheck, ScreeningRule
from treatments.screening import INTERVAL_RULE_NAME, is_blocked, refusal_message, screen
from treatments.services import history_add

DAY = datetime.date(2026, 3, 20)


def names(findings) -> list[str]:
    return [finding.rule_name for finding in findings]


def run(patient, catalogue, kind, on=DAY, level=None, area="face", check=None):
    return screen(
        patient=patient,
        modality=catalogue.modality(kind),
        depth_level=catalogue.level(kind, level) if level else None,
        on=on,
        body_area=catalogue.area(area) if area else None,
        check=check,
    )


def test_a_clear_patient_has_no_findings(alice, catalogue):
    for kind in ["microdermabrasion", "microneedling", "laser_peel", "laser_resurfacing"]:
        assert run(alice, catalogue, kind) == []


def test_condition_active_in_history_is_absolute_and_a_resolved_one_is_not(alice, catalogue):
    history_add(
        patient=alice, factor=catalogue.factor("cold-sore"), started_on=DAY - datetime.timedelta(3)
    )
    findings = run(alice, catalogue, "microdermabrasion")
    assert names(findings) == ["Active cold sore"]
    assert findings[0].severity == "absolute"
    assert findings[0].rule == ScreeningRule.objects.get(name="Active cold sore")
    assert "Active cold sore (herpes) in the area: no treatment." in findings[0].reason
    assert is_blocked(findings)
    assert "no treatment" in refusal_message(findings)

    entry = alice.history_entries.get()
    entry.ended_on = DAY - datetime.timedelta(1)
    entry.save()
    assert run(alice, catalogue, "microdermabrasion") == []


@pytest.mark.parametrize(
    ("stopped", "fires"),
    [
        (datetime.date(2025, 9, 21), True),
        (datetime.date(2025, 9, 20), True),  # 20 March is 6 calendar months on: still counts
        (datetime.date(2025, 9, 19), False),
    ],
)
def test_medication_window_edges_isotretinoin_six_months(alice, catalogue, stopped, fires):
    history_add(
        patient=alice,
        factor=catalogue.factor("isotretinoin"),
        started_on=datetime.date(2025, 1, 1),
        ended_on=stopped,
    )
    findings = run(alice, catalogue, "laser_peel")
    assert names(findings) == (["Isotretinoin in the last 6 months"] if fires else [])


def test_medication_still_taken_fires(alice, catalogue):
    history_add(
        patient=alice,
        factor=catalogue.factor("anticoagulants"),
        started_on=datetime.date(2024, 1, 1),
    )
    findings = run(alice, catalogue, "microneedling")
    assert [(f.rule_name, f.severity) for f in findings] == [
        ("Anticoagulants before microneedling", "relative")
    ]
    assert run(alice, catalogue, "microdermabrasion") == []  # the rule is for needling only


@pytest.mark.parametrize(("days_before", "fires"), [(6, True), (7, True), (8, False)])
def test_recent_treatment_elsewhere_at_days_6_7_8(alice, catalogue, days_before, fires):
    history_add(
        patient=alice,
        factor=catalogue.factor("laser-ipl"),
        started_on=DAY - datetime.timedelta(days=days_before),
        notes="IPL at another clinic",
    )
    findings = run(alice, catalogue, "microdermabrasion")
    assert names(findings) == (["Laser or IPL in the last 7 days"] if fires else [])
    if fires:
        assert f"{days_before} days before" in findings[0].reason
    # The rule protects microdermabrasion only.
    assert run(alice, catalogue, "microneedling") == []


@pytest.mark.parametrize(("days_before", "fires"), [(5, True), (6, True), (7, True), (8, False)])
def test_a_laser_session_here_counts_without_typing_it(
    alice, catalogue, session_done, days_before, fires
):
    session_done(alice, "laser_peel", DAY - datetime.timedelta(days=days_before))
    findings = run(alice, catalogue, "microdermabrasion")
    assert names(findings) == (["Laser or IPL in the last 7 days"] if fires else [])
    if fires:
        assert "Laser peel session here" in findings[0].reason


def test_the_evidence_names_each_session_in_date_order(alice, catalogue, session_done):
    session_done(alice, "laser_peel", DAY - datetime.timedelta(days=2))
    session_done(alice, "laser_peel", DAY - datetime.timedelta(days=6))
    (finding,) = run(alice, catalogue, "microdermabrasion")
    assert finding.reason.endswith(
        "(within 7 days: Laser peel session here on 14 March, 6 days before; "
        "Laser peel session here on 18 March, 2 days before)"
    )


def test_booking_a_laser_finds_a_microdermabrasion_booked_within_7_days_after(
    alice, catalogue, session_booked
):
    session_booked(alice, "microdermabrasion", DAY + datetime.timedelta(days=3))
    findings = run(alice, catalogue, "laser_peel")
    assert names(findings) == ["Laser or IPL in the last 7 days"]
    assert "Microdermabrasion session is booked" in findings[0].reason
    assert "3 days after" in findings[0].reason
    session_booked(bob_like := alice, "microdermabrasion", DAY + datetime.timedelta(days=30))
    assert len(run(bob_like, catalogue, "laser_peel")) == 1


@pytest.mark.parametrize(("days_before", "fires"), [(6, True), (7, True), (8, False)])
def test_recent_exposure_waxing_of_the_area(alice, catalogue, days_before, fires):
    history_add(
        patient=alice,
        factor=catalogue.factor("waxing"),
        started_on=DAY - datetime.timedelta(days=days_before),
        body_area=catalogue.area("face"),
    )
    expected = ["Waxing of the area in the last 7 days"] if fires else []
    assert names(run(alice, catalogue, "microneedling", area="face")) == expected
    # Waxing elsewhere does not stop a treatment of the neck.
    assert run(alice, catalogue, "microneedling", area="neck") == []


def test_pre_session_check_states_today(alice, catalogue, clinician_user):
    check = PreSessionCheck.objects.create(patient=alice, checked_on=DAY, checked_by=clinician_user)
    check.present.set([catalogue.factor("pregnancy"), catalogue.factor("rosacea-flare")])
    laser = run(alice, catalogue, "laser_resurfacing", check=check)
    assert [(f.rule_name, f.severity) for f in laser] == [
        ("Pregnancy", "absolute"),
        ("Rosacea flare", "relative"),
    ]
    assert "noted in the pre-session check" in laser[0].reason
    # Pregnancy is not a contraindication for microdermabrasion in the clinic's rules.
    assert names(run(alice, catalogue, "microdermabrasion", check=check)) == ["Rosacea flare"]
    # A check of another day says nothing about this one.
    assert (
        run(alice, catalogue, "laser_resurfacing", on=DAY + datetime.timedelta(1), check=check)
        == []
    )


def test_rules_limited_to_levels(alice, catalogue):
    history_add(
        patient=alice, factor=catalogue.factor("keloid"), started_on=datetime.date(2010, 1, 1)
    )
    assert run(alice, catalogue, "microdermabrasion", level=1) == []
    assert names(run(alice, catalogue, "microdermabrasion", level=3)) == ["Keloid tendency"]
    # Microneedling is listed without levels: every level.
    assert names(run(alice, catalogue, "microneedling", level=1)) == ["Keloid tendency"]
    assert run(alice, catalogue, "laser_peel") == []


def test_minimum_interval_between_sessions_of_the_same_area(alice, catalogue, session_done):
    session_done(alice, "microdermabrasion", DAY - datetime.timedelta(days=6))
    findings = run(alice, catalogue, "microdermabrasion")
    assert names(findings) == [INTERVAL_RULE_NAME]
    assert "at least 7 days" in findings[0].reason
    assert run(alice, catalogue, "microdermabrasion", area="neck") == []
    assert run(alice, catalogue, "microdermabrasion", on=DAY + datetime.timedelta(1)) == []


def test_rules_are_data_an_admin_changes(alice, catalogue):
    history_add(
        patient=alice, factor=catalogue.factor("laser-ipl"), started_on=DAY - datetime.timedelta(10)
    )
    assert run(alice, catalogue, "microdermabrasion") == []
    rule = ScreeningRule.objects.get(name="Laser or IPL in the last 7 days")
    rule.window = 14
    rule.severity = ScreeningRule.Severity.RELATIVE
    rule.save()
    assert [f.severity for f in run(alice, catalogue, "microdermabrasion")] == ["relative"]
    rule.active = False
    rule.save()
    assert run(alice, catalogue, "microdermabrasion") == []


def test_screen_runs_a_fixed_number_of_queries(
    alice, catalogue, session_done, clinician_user, django_assert_num_queries
):
    for days in range(3):
        history_add(
            patient=alice,
            factor=catalogue.factor("laser-ipl"),
            started_on=DAY - datetime.timedelta(days),
        )
        session_done(alice, "laser_peel", DAY - datetime.timedelta(days=20 + days * 30))
    check = PreSessionCheck.objects.create(patient=alice, checked_on=DAY, checked_by=clinician_user)
    check.present.set([catalogue.factor("sunburn")])
    modality, area = catalogue.modality("microdermabrasion"), catalogue.area("face")
    # rules; their modalities; their levels; their factors' counted modalities; history with
    # factors; sessions with plan and modality; their areas; the body areas' hierarchy; the
    # check's factors
    with django_assert_num_queries(9):
        findings = screen(patient=alice, modality=modality, on=DAY, body_area=area, check=check)
    assert names(findings) == ["Laser or IPL in the last 7 days", "Sunburn"]
