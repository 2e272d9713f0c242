"""``saved-views/``: the organization's saved Explore views (name, query string, owner, the shareable URL).
The same selector and access policy as the web page: every member of the organization sees its views."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from rest_framework import serializers

from finops.api.pagination import IdCursorPagination
from finops.api.tenancy import TenantReadOnlyViewSet
from finops.usage.models import SavedView
from finops.usage.saved_views import saved_views_visible


class SavedViewSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    url = serializers.SerializerMethodField(help_text="The view's shareable page URL (members of the organization).")
    explore_url = serializers.SerializerMethodField(help_text="Explore with the saved query.")

    class Meta:
        model = SavedView
        fields = ["id", "name", "query", "owner", "created_at", "url", "explore_url"]

    def get_url(self, saved: SavedView) -> str:
        return reverse("web:saved_view", args=[saved.pk])

    def get_explore_url(self, saved: SavedView) -> str:
        return f"{reverse('web:explore')}?{saved.query}"


class SavedViewViewSet(TenantReadOnlyViewSet):
    """Saved Explore views of the organization, oldest first; another organization's id is a 404."""

    queryset = SavedView.objects.all()
    serializer_class = SavedViewSerializer
    pagination_class = IdCursorPagination

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset & saved_views_visible(self.tenant)
