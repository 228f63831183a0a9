from django.urls import path

from . import views

app_name = "treatments"
urlpatterns = [
    path("patients/<int:patient_id>/", views.chart, name="chart"),
    path("patients/<int:patient_id>/history/new/", views.history_create, name="history_create"),
    path("history/<int:entry_id>/edit/", views.history_edit, name="history_edit"),
    path("history/<int:entry_id>/confirm/", views.history_confirm, name="history_confirm"),
    path("history/<int:entry_id>/correct/", views.history_correct, name="history_correct"),
    path("patients/<int:patient_id>/intake/confirm/", views.intake_confirm, name="intake_confirm"),
    path("patients/<int:patient_id>/plans/new/", views.plan_create, name="plan_create"),
    path("plans/<int:plan_id>/", views.plan_detail, name="plan_detail"),
    path("plans/<int:plan_id>/confirm/", views.plan_confirm, name="plan_confirm"),
    path("sessions/<int:session_id>/", views.session_detail, name="session_detail"),
    path("sessions/<int:session_id>/screen/", views.session_screen, name="session_screen"),
    path("sessions/<int:session_id>/record/", views.session_record, name="session_record"),
    path("sessions/<int:session_id>/level/", views.session_level, name="session_level"),
    path("screenings/<int:screening_id>/", views.screening_detail, name="screening_detail"),
    path(
        "screenings/<int:screening_id>/override/",
        views.screening_override,
        name="screening_override",
    ),
    path("patients/<int:patient_id>/consents/", views.patient_consents, name="patient_consents"),
    path(
        "patients/<int:patient_id>/consents/<int:modality_id>/tablet/",
        views.consent_tablet,
        name="consent_tablet",
    ),
    path("consents/<int:signature_id>/pdf/", views.consent_pdf_staff, name="consent_pdf"),
]
