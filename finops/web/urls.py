from django.urls import path

from finops.web import (
    views,
    views_account,
    views_budgets,
    views_carbon,
    views_commitments,
    views_explore,
    views_forecasts,
    views_optimizer,
    views_pricing,
    views_rightsizing,
)

app_name = "web"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("explore/", views_explore.explore, name="explore"),
    path("explore/views/", views_explore.saved_view_save, name="saved_view_save"),
    path("explore/views/<int:pk>/", views_explore.saved_view_open, name="saved_view"),
    path("teams/", views.teams, name="teams"),
    path("team-mappings/", views.team_mappings, name="team_mappings"),
    path("teams/<slug:slug>/", views.team, name="team"),
    path("teams/<slug:slug>/metrics", views.team_metrics_upload, name="team_metrics_upload"),
    path("data/", views.data, name="data"),
    path("data/jobs/<int:job_id>/progress", views.job_progress, name="job_progress"),
    path("budgets/", views_budgets.budget_list, name="budgets"),
    path("budgets/new", views_budgets.budget_new, name="budget_new"),
    path("budgets/<int:budget_id>/", views_budgets.budget_detail, name="budget_detail"),
    path("budgets/<int:budget_id>/edit", views_budgets.budget_edit, name="budget_edit"),
    path("anomalies/", views_forecasts.anomalies, name="anomalies"),
    path("anomalies/feedback", views_forecasts.anomalies_feedback, name="anomalies_feedback"),
    path("anomalies/<int:anomaly_id>/feedback", views_forecasts.anomaly_feedback, name="anomaly_feedback"),
    path("optimizer/", views_optimizer.optimizer, name="optimizer"),
    path("optimizer/runs/<int:run_id>/", views_optimizer.optimizer_run, name="optimizer_run"),
    path("optimizer/runs/<int:run_id>/status", views_optimizer.optimizer_run_status, name="optimizer_run_status"),
    path("commitments/", views_commitments.commitments, name="commitments"),
    path("rightsizing/", views_rightsizing.rightsizing, name="rightsizing"),
    path("account/tokens/", views_account.account_tokens, name="account_tokens"),
    path("account/tokens/<int:token_id>/revoke", views_account.account_token_revoke, name="account_token_revoke"),
    path("account/alerts/", views_account.account_alerts, name="account_alerts"),
    path("healthz", views.healthz, name="healthz"),
]

# Mounted by finops/urls.py under /carbon/ and /pricing/ with their own namespaces ("carbon:", "pricing:").
carbon_urlpatterns = [
    path("", views_carbon.overview, name="overview"),
    path("methodology/", views_carbon.methodology, name="methodology"),
]
pricing_urlpatterns = [path("", views_pricing.catalog, name="catalog")]
