from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("calendar.ics", views.calendar, name="calendar"),
    path("history/", views.history, name="history"),
    path("book/", views.book, name="book"),
    path("book/consultation/", views.book_consultation, name="book_consultation"),
    path("book/<int:session_id>/", views.book_session, name="book_session"),
    path("intake/", views.intake, name="intake"),
    path("sessions/<int:session_id>/", views.session_detail, name="session"),
    path("sessions/<int:session_id>/calendar.ics", views.session_calendar, name="session_ics"),
    path("sessions/<int:session_id>/cancel/", views.session_cancel, name="session_cancel"),
    path("sessions/<int:session_id>/change/", views.session_change, name="session_change"),
    path("sessions/<int:session_id>/move/", views.session_move, name="session_move"),
    path("sessions/<int:session_id>/check/", views.session_check, name="session_check"),
    path(
        "sessions/<int:session_id>/request/withdraw/",
        views.request_withdraw,
        name="request_withdraw",
    ),
    path("sessions/<int:session_id>/waitlist/", views.session_waitlist, name="session_waitlist"),
    path(
        "sessions/<int:session_id>/waitlist/withdraw/",
        views.session_waitlist_withdraw,
        name="session_waitlist_withdraw",
    ),
    path("photos/", views.photos, name="photos"),
    path("photos/<int:comparison_id>/", views.comparison, name="comparison"),
    path("my-data/", views.my_data, name="my_data"),
    path("reminders/", views.reminders_choice, name="reminders"),
    path("my-data/<int:export_id>/", views.my_data_download, name="my_data_download"),
    path("consents/", views.my_consents, name="consents"),
    path("consents/photos/", views.photo_consent, name="photo_consent"),
    path("consents/sign/<int:modality_id>/", views.consent_sign, name="consent_sign"),
    path("consents/<int:signature_id>/pdf/", views.consent_pdf, name="consent_pdf"),
]
