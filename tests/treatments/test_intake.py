"""The health questionnaire's domain: a patient's answers become history that screening reads at
once, a clinician confirms or corrects them, and every version is kept."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from tests.factories import PatientFactory
from treatments import intake, screening, services
from treatments.models import Factor, HistoryEntry, Intake

TODAY = datetime.date(2026, 11, 16)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(datetime.datetime(2026, 11, 16, 9, 0, tzinfo=datetime.UTC)):
        yield


def answers(catalogue, **given) -> list[intake.Answer]:
    """An answer to every question: "no" unless given (slug: dict of the answer's fields)."""
    return [
        intake.Answer(factor=factor, present=factor.slug in given, **given.get(factor.slug, {}))
        for factor in intake.questions()
    ]


def send(patient, catalogue, skin_type="III", **given) -> Intake:
    return intake.intake_submit(
        patient=patient,
        answers=answers(catalogue, **given),
        skin_type=skin_type,
        goals=[catalogue.indication("acne-scars")],
        goal_areas=[catalogue.area("face")],
        by=patient.user,
    )


def refusals(patient, catalogue, kind="laser_peel", on=TODAY + datetime.timedelta(days=7)):
    findings = screening.screen(patient=patient, modality=catalogue.modality(kind), on=on)
    return [finding.rule_name for finding in findings if finding.is_absolute]


def test_the_questions_come_from_the_catalogue_by_kind(catalogue):
    asked = intake.questions()
    slugs = [factor.slug for factor in asked]
    assert {"pregnancy", "isotretinoin", "anticoagulants", "laser-ipl", "peel", "waxing"} <= set(
        slugs
    )
    assert "new-medicine" not in slugs and "cold-sore" not in slugs  # the day's check asks those
    kinds = [factor.kind for factor in asked]
    assert kinds == sorted(kinds, key=intake.KIND_ORDER.index)
    assert {factor.slug for factor in asked if factor.needs_area} == {"waxing"}
    # An admin adds a question: it is asked, in the patient's words.
    Factor.objects.filter(slug="rosacea-flare").update(
        in_intake=True, intake_question="Do you have rosacea?"
    )
    added = next(f for f in intake.questions() if f.slug == "rosacea-flare")
    assert added.question == "Do you have rosacea?"


def test_a_reported_isotretinoin_course_refuses_a_peel_at_once(alice, catalogue):
    assert refusals(alice, catalogue) == []
    send(alice, catalogue, isotretinoin={"ended_on": TODAY - datetime.timedelta(days=60)})
    (entry,) = HistoryEntry.objects.for_patient(alice)
    assert entry.source == HistoryEntry.Source.PATIENT and entry.recorded_by == alice.user
    assert entry.confirmed_at is None
    assert refusals(alice, catalogue) == ["Isotretinoin in the last 6 months"]
    event = AuditEvent.objects.get(detail="reported by the patient in the questionnaire")
    assert (event.actor, event.patient_id) == (alice.user, alice.pk)


def test_the_questionnaire_keeps_skin_type_goals_and_the_no_answers(alice, catalogue):
    sent = send(alice, catalogue, skin_type="V", pregnancy={})
    assert sent.skin_type == "V"
    assert [i.slug for i in sent.goals.all()] == ["acne-scars"]
    assert [a.slug for a in sent.goal_areas.all()] == ["face"]
    said_no = {factor.slug for factor in sent.answered_no.all()}
    assert "pregnancy" not in said_no and {"isotretinoin", "laser-ipl"} <= said_no
    assert refusals(alice, catalogue) == ["Pregnancy"]


def test_wrong_dates_are_refused_with_the_reason_and_nothing_is_saved(alice, catalogue):
    with pytest.raises(ValidationError) as refused:
        send(
            alice,
            catalogue,
            **{
                "laser-ipl": {"started_on": TODAY + datetime.timedelta(days=1)},
                "isotretinoin": {
                    "started_on": datetime.date(2026, 5, 1),
                    "ended_on": datetime.date(2026, 4, 1),
                },
                "waxing": {},
            },
        )
    problems = refused.value.message_dict
    laser, iso, wax = (catalogue.factor(s).pk for s in ("laser-ipl", "isotretinoin", "waxing"))
    assert problems[f"{laser}-started_on"] == ["History cannot start in the future."]
    assert problems[f"{iso}-ended_on"] == ["The end date cannot be before the start date."]
    assert problems[f"{wax}-started_on"] == ["Give the day it happened."]
    assert not HistoryEntry.objects.exists() and not Intake.objects.exists()


def test_a_date_with_a_no_answer_asks_which_it_is(alice, catalogue):
    answer = intake.Answer(factor=catalogue.factor("laser-ipl"), present=False, started_on=TODAY)
    assert intake.answer_problems(patient=alice, answer=answer) == {
        "present": ["You gave a date: answer yes, or clear the date."]
    }
    with pytest.raises(ValidationError, match="skin type"):
        send(alice, catalogue, skin_type="VII")


def test_a_changed_answer_replaces_the_earlier_one_which_is_kept(alice, catalogue):
    first = datetime.date(2026, 10, 1)
    send(alice, catalogue, **{"laser-ipl": {"started_on": first}})
    send(alice, catalogue, **{"laser-ipl": {"started_on": first}})  # the same: nothing new
    assert HistoryEntry.objects.count() == 1
    later = TODAY - datetime.timedelta(days=3)
    send(alice, catalogue, **{"laser-ipl": {"started_on": later}})
    old, new = HistoryEntry.objects.order_by("id")
    assert (old.started_on, old.superseded_by, old.superseded_note) == (
        first,
        alice.user,
        "changed in the questionnaire",
    )
    assert new.corrects == old and new.is_current and new.started_on == later
    assert list(HistoryEntry.objects.current()) == [new]
    soon = TODAY + datetime.timedelta(days=2)
    assert refusals(alice, catalogue, kind="microdermabrasion", on=soon) == [
        "Laser or IPL in the last 7 days"
    ]
    send(alice, catalogue)  # now "no": the report is withdrawn, and kept
    new.refresh_from_db()
    assert new.superseded_note == "answered no in the questionnaire"
    assert refusals(alice, catalogue, kind="microdermabrasion", on=soon) == []
    assert Intake.objects.filter(patient=alice).count() == 4  # every version sent


def test_a_clinician_confirms_one_report(alice, catalogue, clinician_user):
    send(alice, catalogue, anticoagulants={})
    entry = HistoryEntry.objects.get()
    intake.history_confirm(entry=entry, by=clinician_user)
    entry.refresh_from_db()
    assert (entry.confirmed_by, entry.source) == (clinician_user, HistoryEntry.Source.PATIENT)
    assert entry.confirmed_at is not None
    assert AuditEvent.objects.filter(detail="report confirmed", actor=clinician_user).count() == 1


def test_a_correction_keeps_both_versions_and_screening_reads_the_correction(
    alice, catalogue, clinician_user
):
    reported_end = TODAY - datetime.timedelta(days=30)
    send(alice, catalogue, isotretinoin={"ended_on": reported_end})
    report = HistoryEntry.objects.get()
    assert refusals(alice, catalogue) == ["Isotretinoin in the last 6 months"]

    actual_end = datetime.date(2025, 1, 31)  # stopped long ago, as the clinician found out
    correction = intake.history_correct(
        entry=report, by=clinician_user, ended_on=actual_end, reason="stopped in January 2025"
    )
    report.refresh_from_db()
    assert report.ended_on == reported_end  # the patient's answer, as they gave it
    assert (report.superseded_by, report.superseded_note) == (
        clinician_user,
        "stopped in January 2025",
    )
    assert correction.corrects == report and correction.source == HistoryEntry.Source.CLINIC
    assert correction.recorded_by == clinician_user and correction.ended_on == actual_end
    assert refusals(alice, catalogue) == []
    with pytest.raises(ValidationError, match="replaced since"):
        intake.history_confirm(entry=report, by=clinician_user)


def test_a_report_that_does_not_apply_needs_a_reason(alice, catalogue, clinician_user):
    send(alice, catalogue, pregnancy={})
    report = HistoryEntry.objects.get()
    with pytest.raises(ValidationError, match="Say why"):
        intake.history_correct(entry=report, by=clinician_user, does_not_apply=True)
    with pytest.raises(ValidationError, match="confirm it instead"):
        intake.history_correct(entry=report, by=clinician_user)
    assert (
        intake.history_correct(
            entry=report, by=clinician_user, does_not_apply=True, reason="ticked by mistake"
        )
        is None
    )
    assert HistoryEntry.objects.current().count() == 0
    assert refusals(alice, catalogue) == []


def test_staff_edits_never_rewrite_a_patients_report(alice, catalogue, clinician_user):
    send(alice, catalogue, anticoagulants={})
    report = HistoryEntry.objects.get()
    with pytest.raises(ValidationError, match="confirm or correct it"):
        services.history_update(entry=report, notes="changed", by=clinician_user)


def test_confirming_the_questionnaire_confirms_every_report_and_closes_it(
    alice, catalogue, clinician_user
):
    sent = send(alice, catalogue, anticoagulants={}, keloid={})
    intake.intake_confirm(intake=sent, by=clinician_user)
    assert set(HistoryEntry.objects.values_list("confirmed_by", flat=True)) == {clinician_user.pk}
    sent.refresh_from_db()
    assert sent.confirmed_by == clinician_user
    with pytest.raises(ValidationError, match="already gone through your answers"):
        send(alice, catalogue)
    with pytest.raises(ValidationError, match="confirmed already"):
        intake.intake_confirm(intake=sent, by=clinician_user)


def test_only_a_clinician_confirms(alice, catalogue, front_desk_user, admin_user):
    sent = send(alice, catalogue, anticoagulants={})
    for user in (front_desk_user, admin_user, alice.user):
        with pytest.raises(ValidationError, match="Only a clinician"):
            intake.intake_confirm(intake=sent, by=user)
        with pytest.raises(ValidationError, match="Only a clinician"):
            intake.history_confirm(entry=HistoryEntry.objects.get(), by=user)


def test_a_clinic_entry_is_not_confirmed_as_a_report(alice, catalogue, clinician_user):
    entry = services.history_add(
        patient=alice, factor=catalogue.factor("keloid"), by=clinician_user
    )
    with pytest.raises(ValidationError, match="Only what a patient reported"):
        intake.history_confirm(entry=entry, by=clinician_user)


def test_the_panel_loads_in_a_fixed_number_of_queries(
    alice, catalogue, clinician_user, django_assert_max_num_queries
):
    send(alice, catalogue, anticoagulants={}, keloid={}, pregnancy={})
    report = HistoryEntry.objects.filter(factor__slug="keloid").get()
    intake.history_correct(entry=report, by=clinician_user, notes="mild", reason="seen")
    other = PatientFactory()
    assert not intake.reported_history(other)
    # the intake and its goals, areas and "no" answers (4); the reports and their corrections
    with django_assert_max_num_queries(6):
        panel = intake.reported_history(alice)
        assert [e.factor.slug for e in panel.replaced] == ["keloid"]
        assert panel.replaced[0].corrections.all()[0].notes == "mild"
        assert panel.waiting == 2 and panel.intake.skin_type == "III"
        assert [i.slug for i in panel.intake.goals.all()] == ["acne-scars"]


def test_a_report_a_clinician_confirmed_is_not_withdrawn_by_a_later_no(
    alice, catalogue, clinician_user
):
    """Confirming one report leaves the questionnaire open; a later "no" from the patient must
    not take a clinician-confirmed isotretinoin course out of screening."""
    send(alice, catalogue, isotretinoin={"ended_on": TODAY - datetime.timedelta(days=60)})
    intake.history_confirm(entry=HistoryEntry.objects.get(), by=clinician_user)

    with pytest.raises(ValidationError) as refused:
        send(alice, catalogue)

    assert "confirmed" in " ".join(refused.value.messages)
    assert HistoryEntry.objects.current().count() == 1
    assert refusals(alice, catalogue) == ["Isotretinoin in the last 6 months"]
