from django.urls import path

from finops.carbon import views

app_name = "carbon"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("methodology/", views.methodology, name="methodology"),
]
