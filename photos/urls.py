from django.urls import path

from . import views

app_name = "photos"
urlpatterns = [
    path("sessions/<int:session_id>/", views.session_photos, name="session"),
    path("patients/<int:patient_id>/", views.patient_timeline, name="timeline"),
    path("comparisons/<int:comparison_id>/", views.comparison_detail, name="comparison"),
    path(
        "comparisons/<int:comparison_id>/release/",
        views.comparison_release,
        name="comparison_release",
    ),
    path(
        "comparisons/<int:comparison_id>/alignment/",
        views.comparison_align,
        name="comparison_align",
    ),
    path("comparisons/<int:comparison_id>/sheet.<str:fmt>", views.sheet, name="sheet"),
    path(
        "patients/<int:patient_id>/course-sheets/",
        views.course_sheet_new,
        name="course_sheet_new",
    ),
    path("course-sheets/<int:sheet_id>/", views.course_sheet_detail, name="course_sheet"),
    path(
        "course-sheets/<int:sheet_id>/sheet.<str:fmt>",
        views.course_sheet_file,
        name="course_sheet_file",
    ),
    path("<int:photo_id>/", views.photo_detail, name="photo"),
    path("<int:photo_id>/reference/", views.photo_reference, name="photo_reference"),
    path("<int:photo_id>/regions/", views.photo_regions, name="photo_regions"),
    path("<int:photo_id>/<str:variant>/", views.image, name="image"),
    path("mine/", views.my_comparisons, name="mine"),
]
