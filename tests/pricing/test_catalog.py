"""Price catalog imports through the CLI: real files, exact prices, history, idempotency, bad input."""

from __future__ import annotations

import csv
import gzip
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pricing.models import CatalogImport, Price, Sku, SpotPriceSample
from pricing.services import derive_commitment_prices
from tests import factories
from tests.conftest import ROOT, SHARED_DATA

pytestmark = pytest.mark.django_db
LIBCLOUD = ROOT / "pricing" / "data" / "libcloud_pricing.json.gz"
SPOT_TSV = SHARED_DATA / "aws_spot" / "spot_price_history_2022-05.tsv"
X2IEDN = SHARED_DATA / "aws_pricing" / "ec2instances_x2iedn.32xlarge.json"
PREAMBLE = [
    ["FormatVersion", "v1.0"],
    ["Disclaimer", "This pricing list is for informational purposes only."],
    ["Publication Date", "{published}"],
    ["Version", "{version}"],
    ["OfferCode", "AmazonEC2"],
]
HEADER = [
    "SKU",
    "OfferTermCode",
    "RateCode",
    "TermType",
    "PriceDescription",
    "EffectiveDate",
    "StartingRange",
    "EndingRange",
    "Unit",
    "PricePerUnit",
    "Currency",
    "LeaseContractLength",
    "PurchaseOption",
    "OfferingClass",
    "Product Family",
    "serviceCode",
    "Location",
    "Instance Type",
    "vCPU",
    "Memory",
    "Tenancy",
    "Operating System",
    "License Model",
    "Pre Installed S/W",
    "Region Code",
    "serviceName",
    "Instance Family",
    "Processor Architecture",
    "CapacityStatus",
]


def import_prices(*sources: str | Path, fmt: str = "auto") -> dict:
    out = StringIO()
    call_command("import_prices", *map(str, sources), "--format", fmt, "--json", stdout=out)
    return json.loads(out.getvalue())


def lookup(*args: str) -> dict:
    out = StringIO()
    call_command("price_lookup", "--region", "us-east-1", "--instance-type", "m5.large", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def offer_csv(path: Path, *, published: str, version: str, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        for key, value in PREAMBLE:
            writer.writerow([key, value.format(published=published, version=version)])
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([row.get(column, "") for column in HEADER])
    return path


def m5_on_demand(price: str, effective: str) -> dict:
    return {
        "SKU": "TESTSKU00000M5L",
        "OfferTermCode": "JRTCKXETXF",
        "RateCode": "TESTSKU00000M5L.JRTCKXETXF.6YS6EN2CT7",
        "TermType": "OnDemand",
        "PriceDescription": f"${price} per On Demand Linux m5.large Instance Hour",
        "EffectiveDate": effective,
        "StartingRange": "0",
        "EndingRange": "Inf",
        "Unit": "Hrs",
        "PricePerUnit": price,
        "Currency": "USD",
        "Product Family": "Compute Instance",
        "serviceCode": "AmazonEC2",
        "Location": "US East (N. Virginia)",
        "Instance Type": "m5.large",
        "vCPU": "2",
        "Memory": "8 GiB",
        "Tenancy": "Shared",
        "Operating System": "Linux",
        "License Model": "No License required",
        "Pre Installed S/W": "NA",
        "Region Code": "us-east-1",
        "serviceName": "Amazon Elastic Compute Cloud",
        "Instance Family": "General purpose",
        "Processor Architecture": "64-bit",
        "CapacityStatus": "Used",
    }


def test_a_newer_catalog_supersedes_by_date_and_history_is_kept(tmp_path):
    old = offer_csv(
        tmp_path / "old.csv",
        published="2025-01-01T00:00:00Z",
        version="1",
        rows=[m5_on_demand("0.0960000000", "2025-01-01T00:00:00Z")],
    )
    new = offer_csv(
        tmp_path / "new.csv",
        published="2025-07-01T00:00:00Z",
        version="2",
        rows=[m5_on_demand("0.0900000000", "2025-07-01T00:00:00Z")],
    )
    # Imported newest first: the history must come out right whatever the order.
    assert import_prices(new)["imports"][0]["prices_added"] == 1
    result = import_prices(old)["imports"][0]
    assert result["prices_added"] == 1 and result["prices_superseded"] == 1
    before = lookup("--at", "2025-03-01")["prices"]
    after = lookup("--at", "2025-08-01")["prices"]
    assert [p["hourly"] for p in before if p["term"] == "on_demand"] == ["0.096"]
    assert [p["hourly"] for p in after if p["term"] == "on_demand"] == ["0.09"]
    closed = Price.objects.get(hourly=Decimal("0.096"))
    assert closed.effective_to == datetime(2025, 7, 1, tzinfo=UTC)
    assert [p for p in lookup("--at", "2024-06-01")["prices"] if p["term"] == "on_demand"] == []


def test_same_prices_in_another_file_add_nothing(tmp_path):
    rows = [m5_on_demand("0.0960000000", "2025-01-01T00:00:00Z")]
    import_prices(offer_csv(tmp_path / "a.csv", published="2025-01-01T00:00:00Z", version="1", rows=rows))
    again = import_prices(offer_csv(tmp_path / "b.csv", published="2025-01-02T00:00:00Z", version="1b", rows=rows))
    assert again["imports"][0]["status"] == "succeeded"
    assert again["imports"][0]["prices_added"] == 0
    assert Price.objects.count() == 1


@pytest.fixture(scope="class")
def shipped_catalog(django_db_setup, django_db_blocker):
    """The shipped Libcloud catalog, imported once for a class through the CLI (committed, then deleted after its
    last test); the value is the import's JSON result. An import costs several seconds on each database."""
    with django_db_blocker.unblock():
        result = import_prices(LIBCLOUD)["imports"][0]
    yield result
    with django_db_blocker.unblock():
        factories.delete_catalog()


@pytest.mark.usefixtures("shipped_catalog")
class TestOnTheShippedLibcloudCatalog:
    """Tests that start from the shipped Libcloud catalog. Each still imports it first, which is then the
    documented duplicate no-op; its own writes roll back with its transaction."""

    def test_libcloud_prices_read_back_exactly_and_zeros_are_skipped(self, shipped_catalog):
        with gzip.open(LIBCLOUD, "rt", encoding="utf-8") as handle:
            table = json.load(handle)["compute"]["ec2_linux"]
        zeros = sum(1 for regions in table.values() for price in regions.values() if price == 0)
        result = shipped_catalog
        assert result["status"] == "succeeded" and result["format"] == "libcloud"
        assert result["skipped"]["unknown_price"] >= zeros > 0
        m5 = Price.objects.get(sku__sku_key="aws:ec2:us-east-1:m5.large:linux:shared", term="on_demand")
        assert m5.hourly == Decimal(str(table["m5.large"]["us-east-1"]))
        assert not Price.objects.filter(hourly=Decimal(0), term="on_demand", sku__provider="aws").exists()
        # Specs come from moto's instance types.
        sku = m5.sku
        assert (sku.vcpu, sku.memory_gib, sku.architecture, sku.normalization_factor) == (2, Decimal(8), "x86_64", 4)

    def test_reimport_is_a_no_op(self, shipped_catalog):
        first = shipped_catalog
        counts = Sku.objects.count(), Price.objects.count()
        assert counts[0] > 0 and counts[1] > 0
        again = import_prices(LIBCLOUD)["imports"][0]
        assert again["status"] == "duplicate" and again["import"] == first["import"]
        assert (Sku.objects.count(), Price.objects.count()) == counts
        assert CatalogImport.objects.count() == 1

    @pytest.mark.parametrize(
        ("mutate", "expected"),
        [
            (lambda text: text.replace('"FormatVersion","v1.0"', '"Format","v1.0"'), "preamble"),
            (lambda text: text.replace('"0.0960000000"', '"zero.096"'), "PricePerUnit"),
            (lambda text: text.replace('"OnDemand"', '"Lease"'), "TermType"),
        ],
    )
    def test_bad_offer_files_are_refused_and_nothing_is_written(self, tmp_path, mutate, expected):
        import_prices(LIBCLOUD)
        counts = Sku.objects.count(), Price.objects.count()
        good = offer_csv(
            tmp_path / "good.csv",
            published="2025-01-01T00:00:00Z",
            version="1",
            rows=[m5_on_demand("0.0960000000", "2025-01-01T00:00:00Z")],
        )
        bad = tmp_path / "bad.csv"
        bad.write_text(mutate(good.read_text()))
        with pytest.raises(CommandError) as caught:
            import_prices(bad)
        assert caught.value.returncode == 2
        assert "bad.csv" in str(caught.value) and expected in str(caught.value)
        assert (Sku.objects.count(), Price.objects.count()) == counts
        assert CatalogImport.objects.filter(status="failed").count() == 1

    def test_spot_history_and_lookup_statistics(self):
        with open(SPOT_TSV, encoding="utf-8") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
        import_prices(LIBCLOUD)
        result = import_prices(SPOT_TSV)["imports"][0]
        assert result["spot_samples_added"] == len(rows)
        assert SpotPriceSample.objects.count() == len(rows)
        mine = [r for r in rows if r[0].startswith("use1-") and r[1] == "m5.large" and r[2] == "Linux/UNIX"]
        spot = lookup()["spot"]
        assert spot["samples"] == len(mine)
        assert Decimal(spot["max"]) == max(Decimal(r[3]) for r in mine)
        zones = {r[0] for r in mine}
        assert set(spot["zones"]) == zones
        for zone in zones:
            in_zone = [Decimal(r[3]) for r in mine if r[0] == zone]
            assert spot["zones"][zone]["samples"] == len(in_zone)
            assert Decimal(spot["zones"][zone]["max"]) == max(in_zone)
        assert import_prices(SPOT_TSV)["imports"][0]["status"] == "duplicate"

    def test_derived_commitment_prices_follow_the_published_ratios(self):
        import_prices(LIBCLOUD)
        record, duplicate = derive_commitment_prices()
        assert not duplicate and record.prices_added > 0
        ratios = json.loads(X2IEDN.read_text())["pricing"]["us-east-1"]["linux"]
        on_demand = Decimal("0.096")  # libcloud m5.large us-east-1 (asserted above against the file)
        payload = lookup()
        by_key = {
            (p["term"], p["lease_years"], p["purchase_option"], p["offering_class"], p["plan_type"]): p
            for p in payload["prices"]
        }
        one_year = by_key[("reserved", 1, "no_upfront", "standard", None)]
        expected = on_demand * Decimal(ratios["reserved"]["yrTerm1Standard.noUpfront"]) / Decimal(ratios["ondemand"])
        assert Decimal(one_year["hourly"]) == expected.quantize(Decimal("0.000001"))
        assert one_year["derived"] is True and "yrTerm1Standard.noUpfront" in one_year["provenance"]
        all_upfront = by_key[("reserved", 3, "all_upfront", "standard", None)]
        expected_upfront = (
            on_demand
            * Decimal(ratios["reserved"]["yrTerm3Standard.allUpfront"])
            / Decimal(ratios["ondemand"])
            * 8760
            * 3
        )
        assert Decimal(all_upfront["upfront"]) == expected_upfront.quantize(Decimal("0.01"))
        assert Decimal(all_upfront["hourly"]) == 0
        assert by_key[("savings_plan", 1, "no_upfront", None, "compute")]["derived"] is True
        on_demand_row = by_key[("on_demand", None, None, None, None)]
        assert on_demand_row["derived"] is False and on_demand_row["hourly"] == "0.096"
        count = Price.objects.count()
        assert derive_commitment_prices()[1] is True
        assert Price.objects.count() == count


def test_price_lookup_unknown_sku_exits_2():
    with pytest.raises(CommandError) as caught:
        lookup()
    assert caught.value.returncode == 2 and "m5.large" in str(caught.value)


@pytest.fixture
def http_server(tmp_path):
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()


def test_import_from_url_and_azure_paging(http_server, settings, tmp_path_factory):
    base, root = http_server
    settings.VAR_DIR = tmp_path_factory.mktemp("var")
    # A download of the Libcloud format: m5.large's row of the shipped table is enough to show it arrives whole
    # (the whole table is imported from its file above, at several seconds a time).
    with gzip.open(LIBCLOUD, "rt", encoding="utf-8") as handle:
        m5 = json.load(handle)["compute"]["ec2_linux"]["m5.large"]
    (root / "libcloud.json.gz").write_bytes(
        gzip.compress(json.dumps({"compute": {"ec2_linux": {"m5.large": m5}}}).encode())
    )
    downloaded = import_prices(f"{base}/libcloud.json.gz")["imports"][0]
    assert downloaded["status"] == "succeeded" and downloaded["format"] == "libcloud"
    assert Price.objects.filter(sku__instance_type="m5.large", sku__provider="aws").count() == sum(
        1 for price in m5.values() if price
    )
    page = json.loads((SHARED_DATA / "azure" / "retail_prices" / "eastus_standard_d2s_v3_nofilter.json").read_text())
    second = json.loads(
        (SHARED_DATA / "azure" / "retail_prices" / "eastus_standard_d2als_v7_nofilter_preview.json").read_text()
    )
    page["NextPageLink"] = f"{base}/page2.json"
    (root / "page1.json").write_text(json.dumps(page))
    (root / "page2.json").write_text(json.dumps(second))
    result = import_prices(f"{base}/page1.json", fmt="azure-retail")["imports"][0]
    assert result["status"] == "succeeded"
    assert result["rows"] >= len(page["Items"]) + len(second["Items"])
    assert Sku.objects.filter(provider="azure").count() > 0


def test_download_failure_is_a_clear_error(http_server):
    base, _ = http_server
    with pytest.raises(CommandError) as caught:
        import_prices(f"{base}/missing.json")
    assert "404" in str(caught.value) and caught.value.returncode == 2


def test_an_import_fills_missing_specs_of_existing_skus_and_keeps_known_ones(tmp_path):
    """SKUs stored without specs get them from a later catalog; a spec already stored is never overwritten."""
    record = factories.catalog_record("older catalog", "test")
    bare = factories.ec2_on_demand(record, "m5.large", "us-east-1", Decimal("0.1"))
    known = factories.ec2_on_demand(record, "m5.xlarge", "us-east-1", Decimal("0.2"), sku_fields={"vcpu": 99})
    untouched = factories.ec2_on_demand(record, "m5.2xlarge", "us-east-1", Decimal("0.4"))
    catalog = tmp_path / "pricing.json"
    prices = {"m5.large": {"us-east-1": 0.096}, "m5.xlarge": {"us-east-1": 0.192}}
    catalog.write_text(json.dumps({"compute": {"ec2_linux": prices}, "updated": 1740936978}))
    import_prices(catalog)
    bare.refresh_from_db()
    known.refresh_from_db()
    untouched.refresh_from_db()
    # AWS's published specs: m5.large 2 vCPU / 8 GiB, m5.xlarge 4 vCPU / 16 GiB (normalization factors 4 and 8).
    spec = ("vcpu", "memory_gib", "architecture", "gpu", "instance_family", "normalization_factor")
    assert tuple(getattr(bare, f) for f in spec) == (2, Decimal(8), "x86_64", 0, "m5", Decimal(4))
    assert tuple(getattr(known, f) for f in spec) == (99, Decimal(16), "x86_64", 0, "m5", Decimal(8))
    assert tuple(getattr(untouched, f) for f in spec) == (None,) * 6  # not in the catalog
