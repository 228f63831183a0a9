from core.routers import DefaultRouter

from .api import PatientViewSet

router = DefaultRouter()
router.register("patients", PatientViewSet, basename="patient")
urlpatterns = router.urls
