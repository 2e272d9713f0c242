"""Azure Cost Management cost details exports (EA and MCA, actual and amortized) -> canonical (FOCUS) chunks.

Pure module: no Django imports. Accepts the EA and MCA "cost details" CSV (``Cost`` or
``CostInBillingCurrency``, PascalCase or camelCase headers, US ``MM/DD/YYYY`` or ISO dates), the older EA/MCA
"v2" schema (``BillingCurrencyCode``) and the legacy pay-as-you-go usage export (``SubscriptionGuid``,
``UsageDateTime``, ``PreTaxCost``, ``Currency``). Column names are matched after folding them to lowercase
letters and digits.

The mapping follows Microsoft's "Convert Cost Management data to FOCUS" guide and the FinOps Foundation's
conversion rules (conversion_rules/azure.csv): ChargeType -> ChargeCategory/ChargeClass, Frequency ->
ChargeFrequency, PricingModel -> PricingCategory, BenefitId/BenefitName (older files: ReservationId/Name) ->
CommitmentDiscount*, an MCA row's billing account is its billing profile, period ends exclusive (+1 day),
ProviderName "Microsoft", ResourceLocation -> RegionId/RegionName and ConsumedService with the resource type ->
ServiceName/ServiceCategory through Microsoft's open-data tables. The billing currency of each row is kept as given.

Actual and amortized cost, as the FinOps toolkit's converter splits them row by row:

- a commitment purchase or refund (a reservation or savings plan bought) is billed, never amortized:
  BilledCost = its cost, EffectiveCost = 0;
- commitment usage with a cost (amortized reservation or savings plan usage, and its unused part) is
  amortized, never billed: BilledCost = 0, EffectiveCost = its cost;
- every other row: BilledCost = EffectiveCost = its cost.

So with an actual cost file alone, BilledCost is the invoice and EffectiveCost leaves out the commitments
(the actual file does not say how their purchase amortizes); with an amortized file alone, EffectiveCost is
the amortized cost and BilledCost leaves out the commitment purchases (the amortized file has none). A
delivery carrying both kinds is combined as Microsoft's guide says: every amortized row but commitment
purchases, and from the actual files only the commitment purchases and refunds, so each purchase is billed
once and nothing on demand is counted twice. Which file is which is read from its name ("actual",
"amortized" in the file or folder names), else from its rows (amortized commitment usage, or commitment
purchases).

Legacy pay-as-you-go exports carry no billing account or billing period: the subscription is the billing
account (as Microsoft's guide does for accounts that are neither EA nor MCA) and the billing period is the
calendar month of the charge. Every source column not copied as is into a canonical column stays in
``extras``.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from finops.usage.formats.canonical import canonical_table
from finops.usage.formats.convert import (
    Where,
    canonical_json_objects,
    decimal_product,
    lookup,
    to_decimal,
    to_text,
    to_timestamp,
)
from finops.usage.formats.errors import IngestError
from finops.usage.formats.readers import ExpansionLimits, Source
from finops.usage.formats.schema import DECIMAL
from finops.usage.formats.schema import SERVICE_CATEGORIES as FOCUS_SERVICE_CATEGORIES

PROVIDER = "Microsoft"
# Microsoft's location -> region and service -> FOCUS service tables (FinOps toolkit open data; data/LICENSES.md).
REGIONS_FILE = Path(__file__).with_name("data") / "azure_regions.csv"
SERVICES_FILE = Path(__file__).with_name("data") / "azure_services.csv"
ACTUAL, AMORTIZED = "actual", "amortized"

# Canonical column -> Azure columns (folded names), the first present in the file is used.
_COST = ("costinbillingcurrency", "cost", "pretaxcost")
_CURRENCY = ("billingcurrency", "billingcurrencycode", "currency")
_DATE = ("date", "usagedatetime", "usagedate")
_SUBSCRIPTION_ID = ("subscriptionid", "subscriptionguid")
_TEXT_SOURCES: dict[str, tuple[str, ...]] = {
    "sub_account_id": _SUBSCRIPTION_ID,
    "sub_account_name": ("subscriptionname",),
    "billing_currency": _CURRENCY,
    "charge_description": ("productname", "product"),
    "publisher_name": ("publishername",),
    "availability_zone": ("availabilityzone",),
    "resource_id": ("resourceid", "instanceid"),
    "sku_id": ("meterid",),
    "pricing_unit": ("unitofmeasure",),
}
_DECIMAL_SOURCES: dict[str, tuple[str, ...]] = {"pricing_quantity": ("quantity", "usagequantity")}

# ChargeType -> FOCUS ChargeCategory (Microsoft's guide); anything else is an Adjustment.
CHARGE_CATEGORIES = {
    "Usage": "Usage",
    "Purchase": "Purchase",
    "Credit": "Credit",
    "Tax": "Tax",
    "UnusedReservation": "Usage",
    "UnusedSavingsPlan": "Usage",
    "Refund": "Purchase",
}
CHARGE_FREQUENCIES = {"OneTime": "One-Time", "Recurring": "Recurring", "UsageBased": "Usage-Based"}
PRICING_CATEGORIES = {
    "OnDemand": "Standard",
    "Spot": "Dynamic",
    "Reservation": "Committed",
    "SavingsPlan": "Committed",
}
_COMMITMENT_MODELS = ("Reservation", "SavingsPlan")
_COMMITMENT_SERVICES = ("microsoft.billingbenefits", "microsoft.capacity")
_PURCHASES = ("Purchase", "Refund")
_COMMITMENT_USAGE = ("Usage", "UnusedReservation", "UnusedSavingsPlan")
_UNUSED = ("UnusedReservation", "UnusedSavingsPlan")
# ServiceFamily values that are FOCUS ServiceCategory values (spelling fixed where Azure's differs).
SERVICE_CATEGORIES = {
    "AI + Machine Learning": "AI and Machine Learning",
    **{name: name for name in FOCUS_SERVICE_CATEGORIES if name != "AI and Machine Learning"},
}
# A VM size in AdditionalInfo's ServiceType ("Standard_D2s_v3"); other services put other things there.
_VM_SIZE = r'"ServiceType"\s*:\s*"(?P<size>(?:Standard|Basic)_[^"\\]+)"'
# US dates as Cost Management writes them: 09/21/2023 (optionally followed by a time).
_US_DATE = r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})"
_ONE_DAY = pa.scalar(timedelta(days=1), pa.duration("us"))


def fold(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def looks_like_azure(names: Sequence[str]) -> bool:
    """Azure cost details: a meter column beside a charge date, a cost or a subscription (FOCUS files from
    Microsoft carry ``x_SkuMeterCategory``, not ``MeterCategory``). A file missing some of the columns the
    mapping needs is still Azure, so that its refusal says what an Azure export lacks."""
    folded = {fold(n) for n in names}
    return bool(folded & {"metercategory", "meterid"}) and bool(folded & {*_DATE, *_COST, *_SUBSCRIPTION_ID})


def dataset_hint(path: Path) -> str | None:
    """ "amortized" or "actual" when the file's name or its folders' say so (Cost Management names exports
    after their dataset: ``AmortizedCost``, ``ActualCost``)."""
    text = " ".join(Path(path).parts[-4:]).lower()
    if "amortized" in text or "amortised" in text:
        return AMORTIZED
    if "actual" in text:
        return ACTUAL
    return None


class AzureMapper:
    """Maps raw batches of one Azure cost details file to canonical tables."""

    fmt = "azure"

    def __init__(self, names: Sequence[str], file: str) -> None:
        self._names = list(names)
        self._index: dict[str, int] = {}
        for i, name in enumerate(names):
            self._index.setdefault(fold(name), i)
        missing = []
        for what, options in (
            ("a charge date (Date or UsageDateTime)", _DATE),
            ("a cost (CostInBillingCurrency, Cost or PreTaxCost)", _COST),
            ("a billing currency (BillingCurrency, BillingCurrencyCode or Currency)", _CURRENCY),
            (
                "a billing account (BillingAccountId, BillingProfileId or SubscriptionId)",
                ("billingaccountid", "billingprofileid", *_SUBSCRIPTION_ID),
            ),
        ):
            if self._first(*options) is None:
                missing.append(what)
        if missing:
            raise IngestError(f"missing Azure cost export columns: {'; '.join(missing)}", file=file)
        self._keep: str | None = None  # rows kept when the delivery combines actual and amortized files
        self._dataset: str | None = None
        # billing account -> (currency, file, first row); shared by the files of one delivery (join_delivery)
        self._currencies: dict[str, tuple[str, str, int]] = {}
        copied = {self._first(*sources) for sources in (*_TEXT_SOURCES.values(), *_DECIMAL_SOURCES.values())}
        copied |= {self._first(*_DATE), self._first("billingperiodstartdate"), self._first("tags")}
        copied |= {self._first("resourcename"), self._first("benefitid"), self._first("benefitname")}
        self._extras = [i for i in range(len(names)) if i not in copied]

    def _first(self, *columns: str) -> int | None:
        return next((self._index[c] for c in columns if c in self._index), None)

    def name_of(self, *columns: str) -> str:
        i = self._first(*columns)
        return self._names[i] if i is not None else columns[0]

    # ------------------------------------------------------------------------- delivery

    def join_delivery(self, path: Path, delivery: Sequence[Path], limits: ExpansionLimits | None) -> None:
        """Take this file's part in a delivery of several Azure files (see the module docstring)."""
        azure = [Path(p) for p in delivery if is_azure_file(Path(p))]
        if len(azure) < 2 or Path(path) not in azure:
            self._dataset = dataset_hint(path)
            return
        self._currencies = _delivery_currencies(tuple(_version(p) for p in azure))
        kinds = {p: dataset_kind(p, limits) for p in azure}
        self._dataset = kinds[Path(path)]
        if {ACTUAL, AMORTIZED} <= set(kinds.values()):
            unknown = [p for p, kind in kinds.items() if kind is None]
            if unknown:
                raise IngestError(
                    "this delivery combines Azure actual and amortized cost files, but this one has no commitment "
                    "rows to tell which it is: put 'actual' or 'amortized' in its name",
                    file=str(unknown[0]),
                )
            self._keep = "commitment purchases" if self._dataset == ACTUAL else "all but commitment purchases"

    # --------------------------------------------------------------------------- mapping

    def text(self, batch: pa.RecordBatch, where: Where, *columns: str) -> pa.Array | None:
        i = self._first(*columns)
        return None if i is None else to_text(batch.column(i), where, self._names[i])

    def decimal(self, batch: pa.RecordBatch, where: Where, *columns: str) -> pa.Array | None:
        i = self._first(*columns)
        return None if i is None else to_decimal(batch.column(i), where, self._names[i])

    def timestamp(self, batch: pa.RecordBatch, where: Where, *columns: str) -> pa.Array | None:
        text = self.text(batch, where, *columns)
        return None if text is None else to_timestamp(iso_dates(text), where, self.name_of(*columns))

    def convert(self, batch: pa.RecordBatch, where: Where) -> pa.Table:
        n = batch.num_rows
        columns: dict[str, pa.Array] = {"provider_name": pa.repeat(pa.scalar(PROVIDER), n)}
        for canonical, sources in _TEXT_SOURCES.items():
            value = self.text(batch, where, *sources)
            if value is not None:
                columns[canonical] = value
        for canonical, sources in _DECIMAL_SOURCES.items():
            value = self.decimal(batch, where, *sources)
            if value is not None:
                columns[canonical] = value
        columns.update(self._accounts(batch, where))
        columns.update(self._periods(batch, where))

        charge_type = self.text(batch, where, "chargetype")
        pricing_model = self.text(batch, where, "pricingmodel")
        cost = self.decimal(batch, where, *_COST)
        purchase, commitment_usage = commitment_rows(
            charge_type,
            pricing_model,
            self.text(batch, where, "consumedservice"),
            self.text(batch, where, "reservationid"),
            self.text(batch, where, "benefitid"),
            cost,
        )
        zero = pa.repeat(pa.scalar(0, DECIMAL), n)
        columns["billed_cost"] = pc.if_else(commitment_usage, zero, cost)
        columns["effective_cost"] = pc.if_else(purchase, zero, cost)
        columns.update(self._charge(charge_type, n))
        frequency = self.text(batch, where, "frequency")
        if frequency is not None:
            columns["charge_frequency"] = lookup(frequency, CHARGE_FREQUENCIES.get)
        elif charge_type is None:  # legacy usage exports hold usage only
            columns["charge_frequency"] = pa.repeat(pa.scalar("Usage-Based"), n)
        if pricing_model is not None:
            columns["pricing_category"] = lookup(pricing_model, PRICING_CATEGORIES.get)
        usage = pc.fill_null(pc.equal(columns["charge_category"], "Usage"), False)
        if "pricing_quantity" in columns:
            columns["consumed_quantity"] = pc.if_else(usage, columns["pricing_quantity"], pa.scalar(None, DECIMAL))
        if "pricing_unit" in columns:
            columns["consumed_unit"] = pc.if_else(usage, columns["pricing_unit"], pa.scalar(None, pa.string()))
        columns.update(self._prices(batch, where, pc.or_(purchase, commitment_usage)))
        columns.update(self._commitment(batch, where, charge_type, pricing_model, usage))
        columns.update(self._resource(batch, where))
        columns.update(self._service(batch, where, columns.get("resource_id")))
        self._check_currencies(columns["billing_account_id"], columns["billing_currency"], where)

        extra_names = [self._names[i] for i in self._extras]
        extra_values = [to_text(batch.column(i), where, self._names[i]) for i in self._extras]
        if self._dataset is not None:
            extra_names.append("x_DataSet")
            extra_values.append(pa.repeat(pa.scalar(self._dataset), n))
        sources = {
            "billing_account_id": self.name_of("billingaccountid", "billingprofileid", *_SUBSCRIPTION_ID),
            "billing_currency": self.name_of(*_CURRENCY),
            "charge_category": self.name_of("chargetype"),
            "billed_cost": self.name_of(*_COST),
            "effective_cost": self.name_of(*_COST),
            "charge_period_start": self.name_of(*_DATE),
            "charge_period_end": self.name_of(*_DATE),
            "billing_period_start": self.name_of("billingperiodstartdate", *_DATE),
            "billing_period_end": self.name_of("billingperiodenddate", *_DATE),
        }
        table = canonical_table(n, columns, extra_names, extra_values, sources, where)
        if self._keep is None:
            return table
        keep = purchase if self._keep == "commitment purchases" else pc.invert(purchase)
        return table.filter(keep)

    def _accounts(self, batch: pa.RecordBatch, where: Where) -> dict[str, pa.Array]:
        """EA: the billing account; MCA: the billing profile (a profile has its own invoice and currency); a
        subscription outside both (pay-as-you-go, legacy exports): the subscription. An account is MCA when its
        profile differs from the account and from the subscription (the FinOps toolkit's test)."""
        account = self.text(batch, where, "billingaccountid")
        profile = self.text(batch, where, "billingprofileid")
        subscription = self.text(batch, where, *_SUBSCRIPTION_ID)
        account_name = self.text(batch, where, "billingaccountname")
        profile_name = self.text(batch, where, "billingprofilename")
        subscription_name = self.text(batch, where, "subscriptionname")
        if account is not None and profile is not None:
            mca = pc.fill_null(pc.and_(pc.not_equal(profile, account), pc.is_valid(profile)), False)
            if subscription is not None:
                mca = pc.and_(mca, pc.fill_null(pc.not_equal(profile, subscription), True))
            ids = pc.if_else(mca, profile, account)
            names = None
            if account_name is not None and profile_name is not None:
                names = pc.if_else(mca, profile_name, account_name)
        else:
            ids = account if account is not None else profile
            names = account_name if account is not None else profile_name
        ids = _coalesce(ids, subscription)
        names = _coalesce(names, subscription_name)
        result = {"billing_account_id": ids}
        if names is not None:
            result["billing_account_name"] = names
        return result

    def _periods(self, batch: pa.RecordBatch, where: Where) -> dict[str, pa.Array]:
        charge_start = self.timestamp(batch, where, *_DATE)
        result = {"charge_period_start": charge_start, "charge_period_end": pc.add(charge_start, _ONE_DAY)}
        billing_start = self.timestamp(batch, where, "billingperiodstartdate")
        billing_end = self.timestamp(batch, where, "billingperiodenddate")
        month = pc.floor_temporal(charge_start, unit="month")
        # Legacy exports have no billing period: the charge's calendar month.
        result["billing_period_start"] = _coalesce(billing_start, month)
        next_month = pc.ceil_temporal(month, unit="month", ceil_is_strictly_greater=True)
        result["billing_period_end"] = next_month if billing_end is None else pc.add(billing_end, _ONE_DAY)
        return result

    def _charge(self, charge_type: pa.Array | None, n: int) -> dict[str, pa.Array]:
        if charge_type is None:
            return {"charge_category": pa.repeat(pa.scalar("Usage"), n)}
        return {
            "charge_category": lookup(charge_type, lambda value: CHARGE_CATEGORIES.get(value, "Adjustment")),
            "charge_class": lookup(charge_type, lambda value: "Correction" if value == "Refund" else None),
        }

    def _prices(self, batch: pa.RecordBatch, where: Where, commitment: pa.Array) -> dict[str, pa.Array]:
        """List and contracted prices in the billing currency (MCA prices are in the pricing currency:
        multiplied by ExchangeRatePricingToBilling). A commitment row's PayGPrice of 0 means unknown, not free."""
        result: dict[str, pa.Array] = {}
        quantity = self.decimal(batch, where, *_DECIMAL_SOURCES["pricing_quantity"])
        rate = self.decimal(batch, where, "exchangeratepricingtobilling")
        for unit_column, cost_column, sources in (
            ("list_unit_price", "list_cost", ("paygprice",)),
            ("contracted_unit_price", "contracted_cost", ("unitprice", "resourcerate")),
        ):
            price = self.decimal(batch, where, *sources)
            if price is None:
                continue
            if rate is not None:
                price = pc.if_else(pc.is_valid(rate), decimal_product(price, rate), price)
            if unit_column == "list_unit_price":
                unknown = pc.and_(commitment, pc.fill_null(pc.equal(price, pa.scalar(0, DECIMAL)), False))
                price = pc.if_else(unknown, pa.scalar(None, DECIMAL), price)
            result[unit_column] = price
            if quantity is not None:
                result[cost_column] = decimal_product(price, quantity)
        payg_cost = self.decimal(batch, where, "paygcostinbillingcurrency")
        if payg_cost is not None:
            result["list_cost"] = _coalesce(payg_cost, result.get("list_cost"))
        return result

    def _commitment(
        self,
        batch: pa.RecordBatch,
        where: Where,
        charge_type: pa.Array | None,
        pricing_model: pa.Array | None,
        usage: pa.Array,
    ) -> dict[str, pa.Array]:
        benefit = self.text(batch, where, "benefitid")
        reservation = self.text(batch, where, "reservationid")
        ids = _coalesce(benefit, reservation)
        if ids is None:
            return {}
        n = batch.num_rows
        null = pa.scalar(None, pa.string())
        lowered = pc.utf8_lower(ids)
        capacity = pc.fill_null(pc.match_substring(lowered, "/microsoft.capacity/"), False)
        benefits = pc.fill_null(pc.match_substring(lowered, "/microsoft.billingbenefits/"), False)
        model = pricing_model if pricing_model is not None else pa.nulls(n, pa.string())
        # Older files name only a ReservationId (a bare GUID): a reservation unless the row says savings plan.
        bare = pc.and_(pc.is_valid(ids), pc.invert(pc.or_(capacity, benefits)))
        savings = pc.or_(benefits, pc.and_(bare, pc.fill_null(pc.equal(model, "SavingsPlan"), False)))
        reserved = pc.or_(capacity, pc.and_(bare, pc.invert(savings)))
        result = {
            "commitment_discount_id": ids,
            "commitment_discount_type": pc.if_else(savings, "Savings Plan", pc.if_else(reserved, "Reservation", null)),
            "commitment_discount_category": pc.if_else(savings, "Spend", pc.if_else(reserved, "Usage", null)),
        }
        names = _coalesce(self.text(batch, where, "benefitname"), self.text(batch, where, "reservationname"))
        if names is not None:
            result["commitment_discount_name"] = names
        kind = charge_type if charge_type is not None else pa.nulls(n, pa.string())
        unused = pc.fill_null(pc.is_in(kind, value_set=pa.array(_UNUSED)), False)
        committed = pc.fill_null(pc.is_in(model, value_set=pa.array(_COMMITMENT_MODELS)), False)
        used = pc.and_(pc.and_(usage, committed), pc.invert(unused))
        result["commitment_discount_status"] = pc.if_else(unused, "Unused", pc.if_else(used, "Used", null))
        return result

    def _resource(self, batch: pa.RecordBatch, where: Where) -> dict[str, pa.Array]:
        result: dict[str, pa.Array] = {}
        resource_id = self.text(batch, where, "resourceid", "instanceid")
        name = self.text(batch, where, "resourcename")
        if resource_id is not None and name is None:
            # Microsoft's guide for MCA (no ResourceName column): the last segment of the resource id.
            last = pc.extract_regex(resource_id, r"(?P<name>[^/]+)/?$")
            name = _coalesce(name, pc.struct_field(last, "name"))
        if name is not None:
            result["resource_name"] = name
        location = self.text(batch, where, "resourcelocation", "location")
        if location is not None:
            result.update(regions(location))
        info = self.text(batch, where, "additionalinfo")
        if info is not None:
            # A regex, not a JSON parse per row: AdditionalInfo is nearly unique per row (VM names, ids).
            result["instance_type"] = pc.struct_field(pc.extract_regex(info, _VM_SIZE), "size")
        tags = self.text(batch, where, "tags")
        if tags is not None:
            result["tags"] = canonical_json_objects(braced(tags), where, self.name_of("tags"))
        return result

    def _service(self, batch: pa.RecordBatch, where: Where, resource_id: pa.Array | None) -> dict[str, pa.Array]:
        """ServiceName and ServiceCategory from Microsoft's services table by ConsumedService and resource type;
        where the table has no answer, MeterCategory and ServiceFamily. ResourceType: the export's (legacy
        files), else the ARM type of the resource id (``microsoft.compute/virtualmachines``)."""
        n = batch.num_rows
        result: dict[str, pa.Array] = {}
        resource_type = self.text(batch, where, "resourcetype")
        if resource_type is None and resource_id is not None:
            resource_type = lookup(resource_id, arm_type)
        if resource_type is not None:
            result["resource_type"] = resource_type
        consumed = self.text(batch, where, "consumedservice")
        nothing = pa.nulls(n, pa.string())
        key = pc.binary_join_element_wise(
            pc.fill_null(pc.utf8_lower(consumed if consumed is not None else nothing), ""),
            pc.fill_null(pc.utf8_lower(resource_type if resource_type is not None else nothing), ""),
            "|",
        )
        name, category = (lookup(key, lambda k, i=i: _service_of(k)[i]) for i in (0, 1))
        meter_category = self.text(batch, where, "metercategory")
        family = self.text(batch, where, "servicefamily")
        result["service_name"] = _coalesce(name, meter_category)
        result["service_category"] = _coalesce(
            category, None if family is None else lookup(family, SERVICE_CATEGORIES.get)
        )
        return result

    def _check_currencies(self, accounts: pa.Array, currencies: pa.Array, where: Where) -> None:
        """One billing account (EA enrollment, MCA billing profile) is invoiced in one currency: a second one is
        a merged or corrupt file, refused rather than split into two bills."""
        pairs = pa.table({"a": accounts, "c": pc.utf8_upper(currencies)}).group_by(["a", "c"]).aggregate([])
        for account, currency in zip(pairs["a"].to_pylist(), pairs["c"].to_pylist(), strict=True):
            if account is None or currency is None:
                continue
            seen = self._currencies.get(account)
            rows = pc.and_(pc.equal(accounts, account), pc.equal(pc.utf8_upper(currencies), currency))
            row = where.first_row + pc.index(pc.fill_null(rows, False), True).as_py()
            if seen is None:
                self._currencies[account] = (currency, where.file, row)
            elif seen[0] != currency:
                first, second = (seen, (currency, where.file, row))
                if first[1] == second[1] and second[2] < first[2]:  # both in this batch: name the later row
                    first, second = second, first
                place = f"row {first[2]}" if first[1] == second[1] else f"file {first[1]}, row {first[2]}"
                raise IngestError(
                    f"billing account {account} is billed in {first[0]} ({place}) and in {second[0]}: an "
                    "Azure billing account (EA enrollment or MCA billing profile) has one billing currency; "
                    "export each account on its own",
                    file=second[1],
                    row=second[2],
                    column=self.name_of(*_CURRENCY),
                )


def commitment_rows(
    charge_type: pa.Array | None,
    pricing_model: pa.Array | None,
    consumed_service: pa.Array | None,
    reservation_id: pa.Array | None,
    benefit_id: pa.Array | None,
    cost: pa.Array,
) -> tuple[pa.Array, pa.Array]:
    """(commitment purchase or refund, commitment usage with a cost) per row, as the FinOps toolkit tells them:
    a commitment row names a reservation or savings plan (PricingModel, ReservationId, BenefitId, or the
    Microsoft.Capacity / Microsoft.BillingBenefits service)."""
    n = len(cost)
    false = pa.repeat(pa.scalar(False), n)
    if charge_type is None:
        return false, false
    committed = false
    if pricing_model is not None:
        committed = pc.or_(
            committed, pc.fill_null(pc.is_in(pricing_model, value_set=pa.array(_COMMITMENT_MODELS)), False)
        )
    if consumed_service is not None:
        services = pc.is_in(pc.utf8_lower(consumed_service), value_set=pa.array(_COMMITMENT_SERVICES))
        committed = pc.or_(committed, pc.fill_null(services, False))
    for ids in (reservation_id, benefit_id):
        if ids is not None:
            committed = pc.or_(committed, pc.is_valid(ids))
    purchase = pc.and_(committed, pc.fill_null(pc.is_in(charge_type, value_set=pa.array(_PURCHASES)), False))
    costed = pc.fill_null(pc.not_equal(cost, pa.scalar(0, DECIMAL)), False)
    usage_type = pc.fill_null(pc.is_in(charge_type, value_set=pa.array(_COMMITMENT_USAGE)), False)
    return purchase, pc.and_(pc.and_(committed, usage_type), costed)


@functools.cache
def _known_regions() -> dict[str, tuple[str, str]]:
    with open(REGIONS_FILE, encoding="utf-8", newline="") as handle:
        return {row["OriginalValue"].lower(): (row["RegionId"], row["RegionName"]) for row in csv.DictReader(handle)}


def regions(location: pa.Array) -> dict[str, pa.Array]:
    """RegionId and RegionName of each ResourceLocation ("EastUS2", "US East 2" -> eastus2, East US 2) from
    Microsoft's table; a location it does not know keeps its text as the name and, lowercased without spaces,
    as the id (Microsoft's rule for RegionId)."""
    encoded = pc.dictionary_encode(location)
    known = _known_regions()
    ids, names = [], []
    for value in encoded.dictionary.to_pylist():
        region_id, name = known.get(value.strip().lower(), (value.replace(" ", "").lower(), value))
        ids.append(region_id)
        names.append(name)
    return {
        "region_id": pc.take(pa.array(ids, pa.string()), encoded.indices),
        "region_name": pc.take(pa.array(names, pa.string()), encoded.indices),
    }


def arm_type(resource_id: str) -> str | None:
    """The resource type of an Azure resource id: its provider namespace and the type segments after it
    (``.../providers/Microsoft.Storage/storageAccounts/x/blobServices/default`` ->
    ``microsoft.storage/storageaccounts/blobservices``)."""
    lowered = resource_id.lower()
    at = lowered.rfind("/providers/")
    if at < 0:
        return None
    parts = lowered[at + len("/providers/") :].split("/")
    types = [t for t in parts[1::2] if t]
    return "/".join([parts[0], *types]) if parts[0] and types else None


@functools.cache
def _known_services() -> dict[str, tuple[str, str]]:
    """(ServiceName, ServiceCategory) by "consumedservice|resourcetype", by "|resourcetype" (any consumed
    service) and by "consumedservice|" (any resource type), the first row of the table winning."""
    table: dict[str, tuple[str, str]] = {}
    with open(SERVICES_FILE, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            service, kind = row["ConsumedService"].lower(), row["ResourceType"].lower()
            value = (row["ServiceName"], row["ServiceCategory"])
            for key in (f"{service}|{kind}", f"|{kind}", f"{service}|"):
                table.setdefault(key, value)
    return table


def _service_of(key: str) -> tuple[str | None, str | None]:
    known = _known_services()
    service, kind = key.split("|", 1)
    for candidate in (key, f"|{kind}" if kind else None, f"{service}|" if service else None):
        if candidate and candidate in known:
            return known[candidate]
    return None, None


def iso_dates(text: pa.Array) -> pa.Array:
    """``MM/DD/YYYY`` (Cost Management's US dates) rewritten as ``YYYY-MM-DD``; other values unchanged."""
    if not pc.any(pc.match_substring_regex(text, _US_DATE)).as_py():
        return text
    padded = pc.replace_substring_regex(text, r"^\s*(\d)/", r"0\1/")
    padded = pc.replace_substring_regex(padded, r"^(\d\d)/(\d)/", r"\1/0\2/")
    return pc.replace_substring_regex(padded, r"^(\d\d)/(\d\d)/(\d{4})", r"\3-\1-\2")


def braced(tags: pa.Array) -> pa.Array:
    """Tags as JSON objects: older EA exports write ``"env": "prod","org": "trey"`` without the braces."""
    trimmed = pc.utf8_trim_whitespace(tags)
    bare = pc.fill_null(pc.invert(pc.starts_with(trimmed, "{")), False)
    if not pc.any(bare).as_py():
        return tags
    wrapped = pc.binary_join_element_wise("{", trimmed, "}", "")
    return pc.if_else(bare, wrapped, trimmed)


def _coalesce(first: pa.Array | None, second: pa.Array | None) -> pa.Array | None:
    if first is None:
        return second
    if second is None:
        return first
    return pc.coalesce(first, second)


def _version(path: Path) -> tuple[str, int, int]:
    stat = Path(path).stat()
    return str(path), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=16)
def _delivery_currencies(files: tuple[tuple[str, int, int], ...]) -> dict[str, tuple[str, str, int]]:
    """The billing account -> currency record the files of one delivery share, so that two part files billing
    one account in two currencies are refused too. Keyed by the files' versions: a delivery read again holds
    the same pairs, and a file changed since is a new delivery."""
    return {}


def is_azure_file(path: Path) -> bool:
    """Whether ``path`` is an Azure cost export (by its header; cached per file version)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return False  # its own read reports what is wrong with it
    return _has_azure_header(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=1024)
def _has_azure_header(path: str, size: int, mtime_ns: int) -> bool:
    """Cached like ``_kind_of_rows``: each file of a delivery of N part files is asked about N times."""
    try:
        return looks_like_azure(Source.open(Path(path)).header())
    except IngestError:
        return False


def dataset_kind(path: Path, limits: ExpansionLimits | None = None) -> str | None:
    """ACTUAL or AMORTIZED for one Azure file: from its name, else from its rows (amortized commitment usage
    means amortized; commitment purchases without it mean actual); None when neither tells."""
    hint = dataset_hint(path)
    if hint is not None:
        return hint
    stat = Path(path).stat()
    return _kind_of_rows(str(path), stat.st_size, stat.st_mtime_ns, limits)


@functools.lru_cache(maxsize=64)
def _kind_of_rows(path: str, size: int, mtime_ns: int, limits: ExpansionLimits | None) -> str | None:
    """Scans the file once per version (its size and modification time key the cache: every file of a
    delivery asks about all the others)."""
    source = Source.open(Path(path), limits)
    names = source.header()
    mapper = AzureMapper(names, source.label)
    purchases = False
    rows = 0
    for batch, _ in source.batches(names):
        where = Where(source.label, rows + 1)
        rows += batch.num_rows
        charge_type = mapper.text(batch, where, "chargetype")
        purchase, usage = commitment_rows(
            charge_type,
            mapper.text(batch, where, "pricingmodel"),
            mapper.text(batch, where, "consumedservice"),
            mapper.text(batch, where, "reservationid"),
            mapper.text(batch, where, "benefitid"),
            mapper.decimal(batch, where, *_COST),
        )
        unused = charge_type is not None and pc.any(pc.is_in(charge_type, value_set=pa.array(_UNUSED))).as_py()
        if unused or pc.any(usage).as_py():
            return AMORTIZED
        purchases = purchases or bool(pc.any(purchase).as_py())
    return ACTUAL if purchases else None
