"""REST API under /api/v1/. Each app contributes its viewsets here."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from pricing.api import CatalogImportViewSet, PriceLookupApi, PriceViewSet, SkuViewSet

router = DefaultRouter()
router.register("skus", SkuViewSet, basename="sku")
router.register("prices", PriceViewSet, basename="price")
router.register("catalog-imports", CatalogImportViewSet, basename="catalog-import")

urlpatterns = [
    # Before the router, so "lookup" is not taken for a price id.
    path("prices/lookup", PriceLookupApi.as_view(), name="price-lookup"),
    path("", include(router.urls)),
]
