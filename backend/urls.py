from django.contrib import admin
from django.urls import path

from backend import views

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
