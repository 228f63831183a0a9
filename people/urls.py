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
]
