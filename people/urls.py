from django.urls import path

from . import views

app_name = "people"
urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("new/", views.patient_create, name="patient_create"),
    path("<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path("<int:patient_id>/edit/", views.patient_edit, name="patient_edit"),
    path("<int:patient_id>/invite/", views.patient_invite, name="patient_invite"),
    path("<int:patient_id>/merge/", views.patient_merge, name="patient_merge"),
    path("<int:patient_id>/export/", views.patient_export, name="patient_export"),
    path(
        "<int:patient_id>/export/<int:export_id>/",
        views.patient_export_download,
        name="patient_export_download",
    ),
    path("<int:patient_id>/erase/", views.patient_erase, name="patient_erase"),
]
