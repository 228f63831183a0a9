from core.routers import DefaultRouter

from .api import ComparisonViewSet, PhotoViewSet

router = DefaultRouter()
router.register("photos", PhotoViewSet, basename="photo")
router.register("comparisons", ComparisonViewSet, basename="comparison")
urlpatterns = router.urls
