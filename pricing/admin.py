from django.contrib import admin

from pricing.models import CatalogImport, CatalogSource


@admin.register(CatalogSource)
class CatalogSourceAdmin(admin.ModelAdmin):
    list_display = ["url", "format", "enabled", "last_checked_at", "last_error"]


@admin.register(CatalogImport)
class CatalogImportAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "version", "format", "status", "rows_read", "prices_added", "created_at"]
    list_filter = ["status", "format", "provider"]
