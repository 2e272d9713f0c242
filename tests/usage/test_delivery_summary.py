"""DeliverySummary's one-currency-per-account check on chunks with many accounts (no database)."""

import pyarrow as pa

from finops.usage.rollup import DeliverySummary


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
