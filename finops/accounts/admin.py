from django.contrib import admin

from finops.accounts.models import Membership, Organization, Team


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["organization", "slug", "name", "tag_value"]
    list_filter = ["organization"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["organization", "role"]
    filter_horizontal = ["teams"]
