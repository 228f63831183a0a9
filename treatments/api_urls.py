from core.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("modalities", api.ModalityViewSet, basename="modality")
router.register("indications", api.IndicationViewSet, basename="indication")
router.register("body-areas", api.BodyAreaViewSet, basename="bodyarea")
router.register("screening-factors", api.FactorViewSet, basename="factor")
router.register("screening-rules", api.ScreeningRuleViewSet, basename="screeningrule")
router.register("plans", api.PlanViewSet, basename="plan")
router.register("sessions", api.SessionViewSet, basename="session")
router.register("screenings", api.ScreeningViewSet, basename="screening")
router.register("history", api.HistoryEntryViewSet, basename="historyentry")
router.register("photo-consents", api.PhotoConsentViewSet, basename="photoconsent")
router.register("consent-signatures", api.ConsentSignatureViewSet, basename="consentsignature")
urlpatterns = router.urls
