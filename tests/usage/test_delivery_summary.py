"""DeliverySummary: one currency per account, the summaries of a delivery's files merged; rollups through IPC.
No database."""

import pyarrow as pa

from finops.usage.rollup import DeliverySummary, first_currency_conflict


def _chunk(rows: list[tuple[str, str]]) -> pa.Table:
    return pa.table(
        {
            "provider_name": ["AWS"] * len(rows),
            "billing_account_id": [account for account, _ in rows],
            "billing_currency": [currency for _, currency in rows],
        }
    )


def test_first_row_in_a_second_currency_is_named_across_many_accounts():
    # Accounts a..c in USD; b turns EUR at index 4, c at index 6: the first conflict is b's (file row 10 + 4).
    rows = [("a", "USD"), ("b", "USD"), ("c", "USD"), ("a", "USD"), ("b", "EUR"), ("a", "USD"), ("c", "JPY")]
    summary = DeliverySummary()
    conflict = summary.currency_conflict(_chunk(rows), file="bill.csv", first_row=10)
    assert (conflict.account, conflict.currency, conflict.row) == ("b", "EUR", 14)
    assert conflict.expected == ("USD", "bill.csv", 11)


def test_accounts_remember_their_currency_from_an_earlier_chunk_and_file():
    summary = DeliverySummary()
    many = [(f"acct-{i}", "EUR" if i % 2 else "USD") for i in range(5000)]
    assert summary.currency_conflict(_chunk(many), file="part-1.csv", first_row=1) is None
    # acct-7 was first billed in EUR at part-1's row 8; in part-2 its row 3 is USD.
    later = [("acct-6", "USD"), ("acct-9", "EUR"), ("acct-7", "USD")]
    conflict = summary.currency_conflict(_chunk(later), file="part-2.csv", first_row=1)
    assert (conflict.account, conflict.currency, conflict.row) == ("acct-7", "USD", 3)
    assert conflict.expected == ("EUR", "part-1.csv", 8)
    assert "file part-1.csv, row 8" in conflict.message("part-2.csv")


def test_one_currency_per_account_is_no_conflict():
    rows = [(f"acct-{i % 300}", "GBP") for i in range(10_000)]
    assert DeliverySummary().currency_conflict(_chunk(rows), file="f.csv", first_row=1) is None


def _bill(rows: list[tuple[str, str, str, str, str]]) -> pa.Table:
    """(account, currency, period, billed cost, account name) rows with the columns DeliverySummary.add reads."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from finops.usage.formats.schema import DECIMAL, MONEY_TOTAL_COLUMNS

    n = len(rows)
    cost = pa.array([Decimal(r[3]) for r in rows], DECIMAL)
    columns = {
        "provider_name": ["AWS"] * n,
        "billing_account_id": [r[0] for r in rows],
        "billing_account_name": [r[4] for r in rows],
        "sub_account_id": pa.nulls(n, pa.string()),
        "sub_account_name": pa.nulls(n, pa.string()),
        "billing_currency": [r[1] for r in rows],
        "billing_period_start": pa.array(
            [datetime.fromisoformat(r[2]).replace(tzinfo=UTC) for r in rows], pa.timestamp("us", tz="UTC")
        ),
    }
    for m in MONEY_TOTAL_COLUMNS:
        columns[m] = cost
    return pa.table(columns)


def test_two_files_summed_apart_and_merged_equal_the_figures_of_the_whole_delivery():
    from decimal import Decimal

    first = [("a", "USD", "2026-10-01", "1.25", "Alpha"), ("b", "EUR", "2026-10-01", "2", "Beta")]
    second = [("a", "USD", "2026-11-01", "0.0000000001", "Alpha 2"), ("a", "USD", "2026-10-01", "3", "Alpha")]
    one, two = DeliverySummary(), DeliverySummary()
    for summary, rows, file in ((one, first, "1.csv"), (two, second, "2.csv")):
        assert summary.currency_conflict(_bill(rows), file=file, first_row=1) is None
        summary.add(_bill(rows))
    merged = DeliverySummary.from_json(one.to_json())
    merged.merge(DeliverySummary.from_json(two.to_json()))
    assert merged.rows == 4
    assert merged.totals["USD"]["billed_cost"] == Decimal("4.2500000001")
    assert merged.totals["EUR"]["billed_cost"] == Decimal("2")
    october = next(k for k in merged.slices if k[1] == "a" and k[2].month == 10)
    assert merged.slices[october] == 2 and len(merged.slices) == 3
    assert merged.names[october]["account"] == {"a": "Alpha"}
    assert merged.billing_periods == ["2026-10-01", "2026-11-01"]
    # A third file billing account b in USD: refused, naming where b was first billed, in delivery order
    # whatever the order the shares come in.
    three = DeliverySummary()
    three.currency_conflict(
        _bill([("c", "USD", "2026-10-01", "1", "C"), ("b", "USD", "2026-10-01", "1", "B")]), file="3.csv", first_row=1
    )
    order = {"1.csv": 0, "2.csv": 1, "3.csv": 2}
    assert first_currency_conflict([one, two], order) is None
    found = first_currency_conflict([three, two, one], order)
    assert found.file == "3.csv"
    assert (found.conflict.account, found.conflict.currency, found.conflict.row) == ("b", "USD", 2)
    assert found.conflict.expected == ("EUR", "1.csv", 2)
    # Read the other way round (3.csv first), 1.csv's EUR row is the conflict.
    found = first_currency_conflict([one, three], {"3.csv": 0, "1.csv": 1})
    assert (found.file, found.conflict.currency, found.conflict.expected) == ("1.csv", "EUR", ("USD", "3.csv", 2))


def test_tables_travel_through_ipc_unchanged():
    from decimal import Decimal

    from finops.usage.rollup import tables_from_ipc, tables_to_ipc

    money = pa.table({"cost": pa.array([Decimal("1.5"), None], pa.decimal128(38, 16)), "day": ["x", "y"]})
    other = pa.table({"n": [1, 2, 3]})
    assert tables_from_ipc(tables_to_ipc([money, other])) == [money, other]
    assert tables_from_ipc(tables_to_ipc([])) == []
