"""Azure Retail Prices API pages: the two real responses from the shared data (Standard_D2s_v3 and
Standard_D2als_v7 in eastus)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from price_helpers import AZURE_D2ALS_V7, AZURE_D2S_V3, collect, needs_shared_data

from pricing.importers import PriceImportError

UTC = dt.UTC


def price(catalog, sku_id: str, term: str, lease: int | None = None) -> dict:
    rows = [
        p
        for p in catalog.price_rows()
        if p["sku_key"].split(":")[1] == sku_id and p["term"] == term and p["lease_years"] == lease
    ]
    assert len(rows) == 1, rows
    return rows[0]


@needs_shared_data
def test_d2s_v3_consumption_prices() -> None:
    catalog = collect(AZURE_D2S_V3)
    assert (catalog.meta.format, catalog.meta.provider) == ("azure-retail", "azure")
    assert catalog.meta.source == "Azure Retail Prices API (Retail, USD)"
    # Item 7: "retailPrice":0.096,"unitPrice":0.096,"armRegionName":"eastus",...,"meterId":"ae331802-83a5-4b9e-b287-
    # 85675f794e3d","meterName":"D2s v3",...,"skuId":"DZH318Z0BQ50/00VV","productName":"Virtual Machines DSv3 Series"
    linux = price(catalog, "DZH318Z0BQ50/00VV", "on_demand")
    assert linux["sku_key"] == "azure:DZH318Z0BQ50/00VV:ae331802-83a5-4b9e-b287-85675f794e3d"
    assert (linux["hourly"], linux["upfront"], linux["unit"], linux["currency"]) == (
        Decimal("0.096"),
        0,
        "1 Hour",
        "USD",
    )
    assert linux["effective_from"] == dt.datetime(2017, 12, 15, tzinfo=UTC)  # "2017-12-15T00:00:00Z"
    assert (linux["tier_start"], linux["source_row"]) == (Decimal(0), 7)
    # Item 8: "unitPrice":0.188, ... "skuId":"DZH318Z0BPWD/00FN","productName":"Virtual Machines DSv3 Series Windows"
    assert price(catalog, "DZH318Z0BPWD/00FN", "on_demand")["hourly"] == Decimal("0.188")
    # Item 4: "unitPrice":0.018816, "meterName":"D2s v3 Spot", "skuId":"DZH318Z0BQ50/0234"
    spot = price(catalog, "DZH318Z0BQ50/0234", "spot")
    assert (spot["hourly"], spot["effective_from"]) == (Decimal("0.018816"), dt.datetime(2026, 6, 1, tzinfo=UTC))
    # Item 3: "unitPrice":0.019, "meterName":"D2s v3 Low Priority": evictable, priced as spot
    assert price(catalog, "DZH318Z0BQ50/00VW", "spot")["hourly"] == Decimal("0.019")

    sku = catalog.sku("azure:DZH318Z0BQ50/00VV:ae331802-83a5-4b9e-b287-85675f794e3d")
    assert (sku["service"], sku["product_family"], sku["region"], sku["instance_type"], sku["operating_system"]) == (
        "Virtual Machines",
        "Compute",
        "eastus",
        "Standard_D2s_v3",
        "linux",
    )
    assert json.loads(sku["attributes"])["productName"] == "Virtual Machines DSv3 Series"
    windows = catalog.sku("azure:DZH318Z0BPWD/00FN:b1ecee3b-bd38-4d2b-a18c-5d8099e23450")
    assert windows["operating_system"] == "windows"


@needs_shared_data
def test_d2s_v3_dev_test_items_are_skipped_and_counted() -> None:
    items = json.loads(AZURE_D2S_V3.read_text())["Items"]
    dev_test = sum(item["type"] == "DevTestConsumption" for item in items)
    catalog = collect(AZURE_D2S_V3)
    assert catalog.rows == len(items) == 9
    assert catalog.skipped("dev_test") == dev_test == 3
    assert catalog.prices.num_rows == len(items) - dev_test  # no savingsPlan arrays in this page
    # One SKU per (skuId, meterId) that has a price; a DevTest item shares its SKU with a Consumption one.
    assert catalog.skus.num_rows == len(
        {(i["skuId"], i["meterId"]) for i in items if i["type"] != "DevTestConsumption"}
    )


@needs_shared_data
def test_d2als_v7_savings_plan_and_reservations() -> None:
    catalog = collect(AZURE_D2ALS_V7)
    # Item 1: Consumption "unitPrice":0.0804 with "savingsPlan":[{"unitPrice":0.035376,...,"term":"3 Years"},
    # {"unitPrice":0.053868,...,"term":"1 Year"}], "skuId":"DZH318Z0TBH5/003D"
    assert price(catalog, "DZH318Z0TBH5/003D", "on_demand")["hourly"] == Decimal("0.0804")
    one = price(catalog, "DZH318Z0TBH5/003D", "savings_plan", 1)
    three = price(catalog, "DZH318Z0TBH5/003D", "savings_plan", 3)
    assert (one["hourly"], three["hourly"]) == (Decimal("0.053868"), Decimal("0.035376"))
    assert (one["plan_type"], one["upfront"], one["unit"], one["source_row"]) == ("compute", 0, "1 Hour", 1)
    assert one["sku_key"] == three["sku_key"] == "azure:DZH318Z0TBH5/003D:01538ee0-66a2-5297-ab94-2a3dbce453c8"
    # Items 2 and 3: "reservationTerm":"1 Year","retailPrice":416.0,"unitPrice":416.0 (skuId DZH318Z0TBH5/02V2) and
    # "reservationTerm":"3 Years",...,"unitPrice":803.0 (DZH318Z0TBH5/02TV): the price of the whole term, paid up front.
    r1 = price(catalog, "DZH318Z0TBH5/02V2", "reserved", 1)
    r3 = price(catalog, "DZH318Z0TBH5/02TV", "reserved", 3)
    assert (r1["upfront"], r1["hourly"], r1["purchase_option"]) == (Decimal(416), 0, "all_upfront")
    assert (r3["upfront"], r3["hourly"]) == (Decimal(803), 0)
    assert catalog.sku("azure:DZH318Z0TBH5/02V2:01538ee0-66a2-5297-ab94-2a3dbce453c8")["operating_system"] is None
    # Item 4: "unitPrice":0.015598,"meterName":"D2als v7 Spot"
    assert price(catalog, "DZH318Z0TBH5/0043", "spot")["hourly"] == Decimal("0.015598")
    assert catalog.skipped("dev_test") == 2
    assert catalog.prices.num_rows == 8 - 2 + 2  # 6 items priced + 2 savings plan entries


# ------------------------------------------------------------------------------------------------ bad input


def page(tmp_path: Path, items: list[dict] | None = None, **top: object) -> Path:
    document = {"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail"}
    if items is not None:
        document["Items"] = items
    document.update(top)
    document.update({"NextPageLink": None, "Count": len(items or [])})
    path = tmp_path / "page.json"
    path.write_text(json.dumps(document))
    return path


def first_item() -> dict:
    return json.loads(AZURE_D2S_V3.read_text())["Items"][6]


def error_of(path: Path) -> PriceImportError:
    with pytest.raises(PriceImportError) as caught:
        collect(path, fmt="azure-retail")
    return caught.value


def test_page_without_items(tmp_path: Path) -> None:
    err = error_of(page(tmp_path))
    assert err.field == "Items"
    assert "no 'Items' key" in err.message


@needs_shared_data
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"skuId": ""}, "Items[1].skuId", "empty skuId"),
        ({"meterId": None}, "Items[1].meterId", "empty meterId"),
        ({"unitPrice": "0.09x"}, "Items[1].unitPrice", "not a number: '0.09x'"),
        ({"unitPrice": None}, "Items[1].unitPrice", "not a number: None"),
        ({"type": "Prepaid"}, "Items[1].type", "unknown price type 'Prepaid'"),
        ({"effectiveStartDate": "soon"}, "Items[1].effectiveStartDate", "not a date/time: 'soon'"),
        ({"savingsPlan": [{"unitPrice": "x", "term": "1 Year"}]}, "Items[1].savingsPlan[0].unitPrice", "not a number"),
    ],
)
def test_bad_items(tmp_path: Path, change: dict, field: str, message: str) -> None:
    good = first_item()
    err = error_of(page(tmp_path, [good, {**good, **change}]))
    assert (err.row, err.field) == (2, field)
    assert err.message.startswith(message)


def test_truncated_page(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    path.write_text('{"BillingCurrency":"USD","Items":[{"currencyCode":"USD","unitPrice":0.1')
    err = error_of(path)
    assert "invalid JSON" in err.message
