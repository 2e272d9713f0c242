"""Serializer fields shared by the API's output serializers."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

from finops.core.amounts import money_str


class Money(serializers.Field):
    """A Decimal (MoneyField) written as a plain decimal string, exact (``money_str``). Read-only."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str | None:
        return money_str(value)


class MoneyExtension(OpenApiSerializerFieldExtension):
    """Documents :class:`Money` as a string in the OpenAPI schema."""

    target_class = "finops.api.fields.Money"

    def map_serializer_field(self, auto_schema, direction) -> dict:
        schema = build_basic_type(OpenApiTypes.STR)
        schema["description"] = "Decimal string, exact."
        if self.target.allow_null:
            schema["nullable"] = True
        return schema
