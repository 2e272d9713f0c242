from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from finops.web.urls import carbon_urlpatterns, pricing_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("finops.api.urls")),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("pricing/", include((pricing_urlpatterns, "pricing"))),
    path("carbon/", include((carbon_urlpatterns, "carbon"))),
    path("", include("finops.web.urls")),
    # Browsers ask for /favicon.ico on pages without an icon link (Django's own error pages).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
]
