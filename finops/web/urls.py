from django.urls import path

from finops.web import views

app_name = "web"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
]
