from django.contrib import admin
from django.urls import path, re_path

from backend import api_errors, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", views.health, name="health"),
    path("api/portfolios/", views.portfolio_list, name="portfolio-list"),
    path("api/portfolios/<str:portfolio_id>/", views.portfolio_detail, name="portfolio-detail"),
    path(
        "api/portfolios/<str:portfolio_id>/rebalance-events/",
        views.rebalance_events,
        name="rebalance-events",
    ),
    path(
        "api/portfolios/<str:portfolio_id>/analytics/",
        views.analytics_snapshots,
        name="analytics-snapshots",
    ),
    path(
        "api/portfolios/<str:portfolio_id>/notification-preferences/",
        views.notification_preferences,
        name="notification-preferences",
    ),
]

urlpatterns.append(re_path(r"^api(/|$)", api_errors.not_found))

handler400 = api_errors.bad_request
handler403 = api_errors.permission_denied
handler404 = api_errors.page_not_found
handler500 = api_errors.server_error
