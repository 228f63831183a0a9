from django.urls import path

from core.routers import SimpleRouter

from .api import AvailabilityView, BookingViewSet, CourseBookingView

router = SimpleRouter()
router.register("booking/sessions", BookingViewSet, basename="booking-session")

urlpatterns = [
    path("booking/availability/", AvailabilityView.as_view(), name="booking-availability"),
    path("booking/plans/<int:plan_id>/book/", CourseBookingView.as_view(), name="course-booking"),
    *router.urls,
]
