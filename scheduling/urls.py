from django.urls import path

from . import views

app_name = "scheduling"
urlpatterns = [
    path("week/", views.week_view, name="week"),
    path("today/", views.today_view, name="today"),
    path("inbox/", views.inbox_view, name="inbox"),
    path("inbox/count/", views.inbox_count, name="inbox_count"),
    path("inbox/mark/", views.inbox_mark, name="inbox_mark"),
    path("book/", views.book_start, name="book_start"),
    path("book/patients/", views.book_patients, name="book_patients"),
    path("consultation/", views.consultation_new, name="consultation_new"),
    path("patients/<int:patient_id>/course/", views.course_propose, name="course_propose"),
    path("plans/<int:plan_id>/book/", views.course_book, name="course_book"),
    path("sessions/<int:session_id>/", views.session_detail, name="session"),
    path("sessions/<int:session_id>/waitlist/", views.waitlist_add, name="waitlist_add"),
    path("waitlist/", views.waitlist_list, name="waitlist"),
    path("waitlist/<int:waitlist_id>/remove/", views.waitlist_remove, name="waitlist_remove"),
    path("patients/<int:patient_id>/flagged/", views.flagged, name="flagged"),
    path("sessions/<int:session_id>/slots/", views.session_slots, name="session_slots"),
    path("sessions/<int:session_id>/book/", views.book_confirm, name="book_confirm"),
    path("sessions/<int:session_id>/move/", views.session_move, name="session_move"),
    path("sessions/<int:session_id>/cancel/", views.session_cancel, name="session_cancel"),
    path(
        "sessions/<int:session_id>/request/handle/",
        views.request_handle,
        name="request_handle",
    ),
    path("sessions/<int:session_id>/check-in/", views.check_in, name="check_in"),
    path("sessions/<int:session_id>/no-show/", views.no_show, name="no_show"),
    path("sessions/<int:session_id>/undo-arrival/", views.arrival_undo, name="arrival_undo"),
]
