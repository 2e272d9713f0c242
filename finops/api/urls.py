"""REST API under /api/v1/. Each app contributes its viewsets here (see finops.api.tenancy for how)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from finops.api import views
from finops.api.budgets_api import BudgetViewSet
from finops.api.carbon_api import CarbonSummaryApi
from finops.api.commitments_api import CommitmentListApi, CommitmentTermsImportApi
from finops.api.forecasting_api import AnomalyViewSet, SeriesForecastViewSet
from finops.api.optimizer_api import OptimizationRunViewSet, RightsizingApi
from finops.api.pricing_api import CatalogImportViewSet, PriceLookupApi, PriceViewSet, SkuViewSet
from finops.api.saved_views_api import SavedViewViewSet

router = SimpleRouter()
router.register("skus", SkuViewSet, basename="sku")
router.register("prices", PriceViewSet, basename="price")
router.register("catalog-imports", CatalogImportViewSet, basename="catalog-import")
router.register("line-items", views.LineItemViewSet, basename="line-item")
router.register("ingest-jobs", views.IngestJobViewSet, basename="ingest-job")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("teams", views.TeamViewSet, basename="team")
router.register("members", views.MemberViewSet, basename="member")
router.register("tokens", views.TokenViewSet, basename="api-token")
router.register("optimizer/runs", OptimizationRunViewSet, basename="optimizer-run")
router.register("forecasts", SeriesForecastViewSet, basename="forecast")
router.register("anomalies", AnomalyViewSet, basename="anomaly")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("saved-views", SavedViewViewSet, basename="saved-view")

routes = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Before the router, so "lookup" is not taken for a price id.
    path("prices/lookup", PriceLookupApi.as_view(), name="price-lookup"),
    path("costs/summary", views.CostSummaryApi.as_view(), name="cost-summary"),
    path("costs/timeseries", views.CostTimeseriesApi.as_view(), name="cost-timeseries"),
    path("focus-export", views.FocusExportApi.as_view(), name="focus-export"),
    path("rightsizing", RightsizingApi.as_view(), name="rightsizing"),
    path("team-mappings", views.TeamMappingApi.as_view(), name="team-mappings"),
    path("carbon/summary", CarbonSummaryApi.as_view(), name="carbon-summary"),
    path("commitments/", CommitmentListApi.as_view(), name="commitments"),
    path("commitments/terms/", CommitmentTermsImportApi.as_view(), name="commitment-terms"),
]
# The root (GET /api/v1/) lists every resource: a router's collection URL, each path above.
root = {prefix: f"{basename}-list" for prefix, _viewset, basename in router.registry}
root |= {str(p.pattern).rstrip("/"): p.name for p in routes}

urlpatterns = [
    *routes,
    path("", views.ApiRootApi.as_view(routes=dict(sorted(root.items()))), name="api-root"),
    path("", include(router.urls)),
    re_path(r"", views.api_not_found),  # last: unknown URLs get the JSON error shape
]
