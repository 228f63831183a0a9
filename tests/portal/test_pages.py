"""What Alice sees in her portal, with real dates, and what she may change."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from icalendar import Calendar

from audit.models import AuditEvent
from photos import services as photo_services
from scheduling import services as scheduling_services
from scheduling.models import Booking
from treatments.models import Session

from .conftest import AMS


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice.user)
    return client


def booked(course) -> Session:
    return course.sessions.get(status=Session.Status.BOOKED)


def test_home_shows_the_plan_progress_next_session_and_chart(signed_in, course):
    html = signed_in.get(reverse("portal:home")).content.decode()
    assert "Microdermabrasion, face" in html
    assert "For dull, dry, rough skin" in html
    assert "3 of 6 sessions done" in html
    assert "session 4 of 6" in html
    assert "Monday 23 March at 10:00" in html  # Amsterdam time, not UTC (09:00)
    assert "in 13 days" in html
    # The chart: an SVG with a title and a description naming each session.
    assert 'role="img"' in html
    assert "Progress: 3 of 6 sessions done" in html
    assert "Session 1, Monday 9 February: done." in html
    assert "Session 4, Monday 23 March: next." in html
    assert "Session 6, Monday 20 April: ahead." in html
    assert 'style="' not in html  # the CSP forbids inline styles


def test_home_shows_instructions_before_the_next_session_with_dates(signed_in, course):
    html = signed_in.get(reverse("portal:home")).content.decode()
    # The rules' windows before Monday 23 March: waxing 7 days (from Monday 16 March), a deep
    # tan 14 days (from Monday 9 March).
    assert "From Monday 16 March 2026: no waxing in the treated area" in html
    assert "From Monday 9 March 2026: no tanning or sunbathing" in html
    assert "Still to book: session 5, session 6." in html


def test_aftercare_after_the_last_session_has_dates_and_a_countdown(signed_in, course):
    html = signed_in.get(reverse("portal:home")).content.decode()
    # Session 3 on Monday 9 March; three days without retinoids: again from Friday 13 March.
    assert "After your session on Monday 9 March" in html
    assert "Retinoids again from Friday 13 March" in html
    assert "in 3 days" in html
    # Sun protection for 28 days: until Monday 6 April, 28 days left counting today.
    assert "Until Monday 6 April: protect the skin from the sun" in html
    assert "28 days left" in html
    # Session 1 (9 February) has no running aftercare any more.
    assert "After your session on Monday 9 February" not in html


def test_history_lists_past_sessions_with_who_and_what(signed_in, course):
    html = signed_in.get(reverse("portal:history")).content.decode()
    assert html.index("Monday 9 March") < html.index("Monday 23 February")
    assert html.index("Monday 23 February") < html.index("Monday 9 February")
    assert "Microdermabrasion (Level I), session 3 of 6" in html
    assert "Carla Jansen" in html
    assert "session 4 of 6" not in html  # not past yet


def test_the_ics_file_has_the_session_in_utc(signed_in, course):
    session = booked(course)
    response = signed_in.get(reverse("portal:session_ics", args=[session.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == dt.datetime(2026, 3, 23, 9, 0, tzinfo=dt.UTC)
    assert "Microdermabrasion" in str(event["summary"])
    everything = Calendar.from_ical(signed_in.get(reverse("portal:calendar")).content)
    assert len(everything.walk("VEVENT")) == 1


def test_a_completed_session_has_no_calendar_file(signed_in, course):
    done = course.sessions.get(number=1)
    assert signed_in.get(reverse("portal:session_ics", args=[done.pk])).status_code == 404


def test_alice_cancels_in_time(signed_in, course, alice):
    session = booked(course)
    page = signed_in.get(reverse("portal:session", args=[session.pk])).content.decode()
    assert "Cancel this session" in page
    response = signed_in.post(
        reverse("portal:session_cancel", args=[session.pk]), {"reason": "Ill"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("portal:home")
    assert "Your session on Monday 23 March is cancelled" in response.content.decode()
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED
    booking = Booking.objects.get(session=session)
    assert (booking.cancelled_by, booking.cancel_reason, booking.cancelled_late) == (
        Booking.CancelledBy.PATIENT,
        "Ill",
        False,
    )
    event = AuditEvent.objects.filter(action="change", object_id=str(session.pk)).latest("id")
    assert event.actor_id == alice.user_id and event.detail == "cancelled by patient"


def test_alice_is_refused_past_the_notice_period(signed_in, course, time_machine):
    session = booked(course)
    time_machine.move_to(dt.datetime(2026, 3, 22, 12, 0, tzinfo=AMS), tick=False)  # 22 h before
    page = signed_in.get(reverse("portal:session", args=[session.pk])).content.decode()
    assert "Cancel this session" not in page
    assert 'please call us on <a href="tel:0201234567">020 123 4567</a>' in page
    response = signed_in.post(reverse("portal:session_cancel", args=[session.pk]), {"reason": "x"})
    assert response.status_code == 400
    assert "less than 24 hours" in response.content.decode()
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED
    response = signed_in.post(
        reverse("portal:session_change", args=[session.pk]), {"message": "Friday?"}
    )
    assert response.status_code == 400
    assert mail.outbox == []


def test_the_notice_period_is_a_setting(signed_in, course, settings):
    settings.CANCELLATION_NOTICE_HOURS = 24 * 14  # two weeks: session 4 is 13 days away
    session = booked(course)
    response = signed_in.post(reverse("portal:session_cancel", args=[session.pk]), {"reason": ""})
    assert response.status_code == 400
    assert "less than 336 hours" in response.content.decode()


def test_a_session_cannot_be_cancelled_twice_or_when_done(signed_in, course):
    done = course.sessions.get(number=1)
    response = signed_in.post(reverse("portal:session_cancel", args=[done.pk]), {"reason": ""})
    assert response.status_code == 400
    assert "cannot be cancelled" in response.content.decode()
    done.refresh_from_db()
    assert done.status == Session.Status.COMPLETED


def test_cancel_and_change_accept_only_post(signed_in, course):
    session = booked(course)
    for name in ("portal:session_cancel", "portal:session_change"):
        assert signed_in.get(reverse(name, args=[session.pk])).status_code == 405


def test_cancel_needs_the_csrf_token(alice, course):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice.user)
    session = booked(course)
    response = strict.post(reverse("portal:session_cancel", args=[session.pk]), {"reason": ""})
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED


def test_a_change_request_emails_the_clinic_and_is_audited(
    signed_in, course, settings, django_capture_on_commit_callbacks
):
    settings.CLINIC_EMAIL = "desk@clinic.example"
    session = booked(course)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            reverse("portal:session_change", args=[session.pk]),
            {"message": "Any Friday afternoon, please."},
            follow=True,
        )
    assert "We have your request" in response.content.decode()
    (email,) = mail.outbox
    assert email.to == ["desk@clinic.example"]
    assert "Any Friday afternoon, please." in email.body
    assert "Monday 23 March at 10:00" in email.body
    assert email.reply_to == [session.patient.email]
    event = AuditEvent.objects.filter(object_id=str(session.pk), action="create").get()
    assert event.detail == "change requested in the portal"
    assert "Friday" not in event.detail
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED  # the front desk moves it, not the patient


def test_an_empty_change_request_is_explained(signed_in, course):
    session = booked(course)
    response = signed_in.post(reverse("portal:session_change", args=[session.pk]), {"message": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert mail.outbox == []


def test_comparison_page_side_by_side_slider_and_sheet(signed_in, comparison):
    html = signed_in.get(reverse("portal:home")).content.decode()
    assert reverse("portal:comparison", args=[comparison.pk]) in html
    assert reverse("photos:image", args=[comparison.before_id, "grid"]) in html  # thumbnails
    assert reverse("photos:image", args=[comparison.before_id, "original"]) not in html
    page = signed_in.get(reverse("portal:comparison", args=[comparison.pk])).content.decode()
    assert "Side by side" in page
    assert 'id="compare-range"' in page
    assert reverse("photos:sheet", args=[comparison.pk, "pdf"]) in page
    sheet = signed_in.get(reverse("photos:sheet", args=[comparison.pk, "pdf"]))
    assert sheet.status_code == 200
    assert b"".join(sheet.streaming_content).startswith(b"%PDF")
    thumb = signed_in.get(reverse("photos:image", args=[comparison.after_id, "grid"]))
    assert thumb.status_code == 200


def test_unreleased_or_unconsented_comparisons_stay_hidden(signed_in, comparison, carla):
    url = reverse("portal:comparison", args=[comparison.pk])
    photo_services.comparison_release(comparison=comparison, released=False, by=carla)
    assert signed_in.get(url).status_code == 404
    assert url not in signed_in.get(reverse("portal:home")).content.decode()
    photo_services.comparison_release(comparison=comparison, released=True, by=carla)
    assert signed_in.get(url).status_code == 200
    photo_services.photo_consent_update(photo=comparison.after, purposes=["clinical"], by=carla)
    assert signed_in.get(url).status_code == 404
    assert url not in signed_in.get(reverse("portal:home")).content.decode()


def test_each_page_view_writes_one_audit_event(signed_in, course, alice):
    session = booked(course)
    urls = {
        reverse("portal:home"): "portal home",
        reverse("portal:history"): "portal history",
        reverse("portal:session", args=[session.pk]): "portal session",
    }
    for url, detail in urls.items():
        before = AuditEvent.objects.count()
        assert signed_in.get(url).status_code == 200
        events = AuditEvent.objects.order_by("id")[before:]
        assert [(e.action, e.detail, e.patient_id) for e in events] == [("view", detail, alice.pk)]


@pytest.mark.parametrize("count", [1, 6, 12, 20])
def test_the_chart_fits_any_course_length(signed_in, alice, carla, frozen, count):
    from portal.queries import CHART_WIDTH, overview

    from .conftest import make_course

    make_course(alice, practitioner=carla, count=count, done=min(3, count), booked=0)
    (view,) = overview(alice).plans
    assert [p.number for p in view.points] == list(range(1, count + 1))
    xs = [p.x for p in view.points]
    assert all(p.x - p.r >= 0 and p.x + p.r <= CHART_WIDTH for p in view.points)
    assert all(b - a > 2 * view.points[0].r for a, b in zip(xs, xs[1:], strict=False))
    html = signed_in.get(reverse("portal:home")).content.decode()
    assert html.count('<circle cx="') == count


def test_the_portal_home_changes_with_the_clock(client, alice, course, time_machine):
    """On the same day, with nothing in the record changed: the cancel link goes when the notice
    period starts, and the session leaves "Your next sessions" when it ends."""
    booked = Session.objects.get(patient=alice, status=Session.Status.BOOKED)
    late_from = scheduling_services.late_cancel_from(booked)
    url = reverse("portal:home")
    time_machine.move_to(late_from - dt.timedelta(minutes=5), tick=False)
    client.force_login(alice.user)
    assert "Details, cancel or change" in page(client, url)
    time_machine.move_to(late_from + dt.timedelta(minutes=1), tick=False)
    late = page(client, url)
    assert "Details, cancel or change" not in late
    assert "Less than 24 hours to go" in late
    time_machine.move_to(booked.starts_at - dt.timedelta(hours=1), tick=False)
    client.force_login(alice.user)
    assert "Your next sessions" in page(client, url)
    assert "Less than 24 hours to go" in page(client, url)
    time_machine.move_to(booked.ends_at + dt.timedelta(minutes=1), tick=False)
    client.force_login(alice.user)  # past the idle timeout
    assert "No sessions booked at the moment." in page(client, url)


def test_the_front_desk_gets_the_chart_without_the_clinical_history(
    client, alice, course, carla, front_desk_user
):
    """people.roles: the desk may view courses and sessions, not history or screenings."""
    from treatments.models import Factor
    from treatments.services import history_add

    history_add(patient=alice, factor=Factor.objects.get(slug="keloid"), by=carla)
    url = reverse("treatments:chart", args=[alice.pk])
    client.force_login(carla)
    clinician_view = page(client, url)
    assert "Medical history" in clinician_view and "Keloid tendency" in clinician_view
    assert "Screenings" in clinician_view
    client.force_login(front_desk_user)
    desk_view = page(client, url)  # 200, or page() fails
    assert "Microdermabrasion" in desk_view
    assert "Medical history" not in desk_view and "Keloid tendency" not in desk_view
    assert "Screenings" not in desk_view


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 10, 0, tzinfo=AMS)


def test_the_home_page_is_bounded_however_long_the_history(
    signed_in, alice, carla, course, django_capture_on_commit_callbacks
):
    """Every active course, the latest three finished ones, the first six booked sessions and
    the latest six comparisons; the rest is one link away."""
    from portal.queries import COMPARISONS_SHOWN, FINISHED_SHOWN, UPCOMING_SHOWN

    from .conftest import add_comparison, make_course

    # A finished course whose last session was on Sunday: created first, so not among the
    # three latest finished, but its aftercare still shows.
    recent = make_course(
        alice, practitioner=carla, first=at(2025, 12, 28), count=6, done=6, booked=0
    )
    recent.status = "completed"
    recent.save()
    finished = []
    with django_capture_on_commit_callbacks(execute=True):
        for year in range(2017, 2025):
            plan = make_course(
                alice, practitioner=carla, first=at(year, 1, 5), count=3, done=3, booked=0
            )
            plan.status = "completed"
            plan.save()
            add_comparison(plan, by=carla)
            finished.append(plan)
    make_course(alice, practitioner=carla, first=at(2026, 3, 16), count=8, done=0, booked=8)

    html = page(signed_in, reverse("portal:home"))
    # The two active courses, then the latest three finished, newest first.
    shown = [course.pk, *(plan.pk for plan in finished[::-1][:FINISHED_SHOWN])]
    assert all(f'id="plan-{pk}"' in html for pk in shown)
    assert html.count('class="card plan"') == 2 + FINISHED_SHOWN
    assert f'id="plan-{recent.pk}"' not in html
    assert "6 earlier finished courses" in html
    assert reverse("portal:history") in html
    assert html.count("<summary>Before this session</summary>") == UPCOMING_SHOWN
    assert "And 3 more booked sessions after these" in html  # 9 booked in all
    assert html.count('class="comparison-link"') == COMPARISONS_SHOWN
    assert reverse("portal:photos") in html
    # The hidden course's last session (Sunday 8 March) still has its aftercare.
    assert "After your session on Sunday 8 March" in html

    everything = page(signed_in, reverse("portal:photos"))
    assert everything.count('class="comparison-link"') == len(finished)
    for plan in finished:
        comparison = plan.photo_comparisons.get()
        assert reverse("portal:comparison", args=[comparison.pk]) in everything
