from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("finops.api.urls")),
    path("pricing/", include("pricing.urls")),
    path("", include("finops.web.urls")),
]
