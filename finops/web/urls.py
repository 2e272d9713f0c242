from django.urls import path

from finops.web import views

app_name = "web"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("explore/", views.explore, name="explore"),
    path("teams/", views.teams, name="teams"),
    path("teams/<slug:slug>/", views.team, name="team"),
    path("teams/<slug:slug>/metrics", views.team_metrics_upload, name="team_metrics_upload"),
    path("data/", views.data, name="data"),
    path("data/jobs/<int:job_id>/progress", views.job_progress, name="job_progress"),
    path("healthz", views.healthz, name="healthz"),
]
