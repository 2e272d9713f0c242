"""Cursor pagination: stable under inserts, no COUNT(*) over large tables."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


class NewestFirstPagination(IdCursorPagination):
    ordering = "-id"
