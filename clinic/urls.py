from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as accounts_views
from accounts.api import obtain_token, revoke_token
from core import views as core_views
from portal import views as portal_views
from scheduling import views as scheduling_views

api_patterns = [
    path("auth/token/", obtain_token, name="api_token"),
    path("auth/token/revoke/", revoke_token, name="api_token_logout"),
    path("", include("people.api_urls")),
    path("", include("treatments.api_urls")),
    path("", include("scheduling.api_urls")),
    path("", include("photos.api_urls")),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("desk/", scheduling_views.day_view, name="desk_home"),
    path("desk/", include("scheduling.urls")),
    path("waitlist/<str:token>/", scheduling_views.waitlist_offer, name="waitlist_offer"),
    # A reminder's confirm, cancel or move link; short, for a text message.
    path("r/<str:token>/", portal_views.reminder_link, name="reminder_link"),
    path("calendar/<str:token>.ics", scheduling_views.practitioner_feed, name="practitioner_feed"),
    path("clinical/", scheduling_views.clinician_day, name="clinical_home"),
    path(
        "clinical/calendar-feed/renew/",
        scheduling_views.calendar_feed_renew,
        name="calendar_feed_renew",
    ),
    path("manage/", core_views.admin_home, name="admin_home"),
    path("manage/audit/", include("audit.urls")),
    path("manage/reports/", include("reports.urls")),
    path("health/", core_views.health, name="health"),
    path("health/live/", core_views.liveness, name="liveness"),
    path("health/ready/", core_views.readiness_view, name="readiness"),
    path("health/outbox/", core_views.outbox_list, name="outbox"),
    path("health/outbox/<int:message_id>/retry/", core_views.outbox_retry, name="outbox_retry"),
    path("patients/", include("people.urls")),
    # The public sign-up sits with the portal it opens; accounts holds it (sign-in's layer).
    path("portal/signup/", accounts_views.signup, name="signup"),
    path("portal/signup/sent/", accounts_views.signup_sent, name="signup_sent"),
    path(
        "portal/signup/verify/<uidb64>/<token>/",
        accounts_views.signup_verify_view,
        name="signup_verify",
    ),
    path("portal/", include("portal.urls")),
    path("treatments/", include("treatments.urls")),
    path("photos/", include("photos.urls")),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
]

handler404 = "core.api.not_found"

admin.site.site_header = "Clinic administration"
admin.site.site_title = "Clinic administration"

if settings.BENCH_BASELINE_VIEW:  # `make bench` only (refused with PRODUCTION=1)
    urlpatterns.append(path("bench/baseline/", core_views.bench_baseline, name="bench_baseline"))
