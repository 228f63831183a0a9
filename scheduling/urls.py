from django.urls import path

from treatments.models import Session

from . import views

app_name = "scheduling"
urlpatterns = [
    path("week/", views.week_view, name="week"),
    path("today/", views.today_view, name="today"),
    path("book/", views.book_start, name="book_start"),
    path("book/patients/", views.book_patients, name="book_patients"),
    path("consultation/", views.consultation_new, name="consultation_new"),
    path("patients/<int:patient_id>/course/", views.course_propose, name="course_propose"),
    path("plans/<int:plan_id>/book/", views.course_book, name="course_book"),
    path("sessions/<int:session_id>/", views.session_detail, name="session"),
    path("patients/<int:patient_id>/flagged/", views.flagged, name="flagged"),
    path("sessions/<int:session_id>/slots/", views.session_slots, name="session_slots"),
    path("sessions/<int:session_id>/book/", views.book_confirm, name="book_confirm"),
    path("sessions/<int:session_id>/move/", views.session_move, name="session_move"),
    path("sessions/<int:session_id>/cancel/", views.session_cancel, name="session_cancel"),
    path(
        "sessions/<int:session_id>/check-in/",
        views.arrival,
        {"status": Session.Status.CHECKED_IN},
        name="check_in",
    ),
    path(
        "sessions/<int:session_id>/no-show/",
        views.arrival,
        {"status": Session.Status.NO_SHOW},
        name="no_show",
    ),
]
