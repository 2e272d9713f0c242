from django.db import migrations, models
from django.db.models import Min


def record_names(apps, schema_editor):
    """The names the current line items carry, recorded on their billing slices (the smallest per id)."""
    BillingSlice = apps.get_model("usage", "BillingSlice")
    LineItem = apps.get_model("usage", "LineItem")
    slice_key = ("organization_id", "provider_name", "billing_account_id", "billing_period_start")
    names: dict[tuple, dict[str, dict[str, str]]] = {}
    for kind, id_field, name_field in (
        ("account", "billing_account_id", "billing_account_name"),
        ("sub_account", "sub_account_id", "sub_account_name"),
    ):
        pairs = (
            LineItem.objects.exclude(**{f"{name_field}__isnull": True})
            .exclude(**{name_field: ""})
            .exclude(**{f"{id_field}__isnull": True})
            .values(*dict.fromkeys([*slice_key, id_field]))
            .annotate(name=Min(name_field))
            .order_by()
        )
        for row in pairs:
            key = tuple(row[f] for f in slice_key)
            names.setdefault(key, {"account": {}, "sub_account": {}})[kind][row[id_field]] = row["name"]
    for billing_slice in BillingSlice.objects.all():
        key = tuple(getattr(billing_slice, f) for f in slice_key)
        if key in names:
            billing_slice.account_names = names[key]
            billing_slice.save(update_fields=["account_names"])


class Migration(migrations.Migration):
    dependencies = [("usage", "0007_lineitem_partitions")]

    operations = [
        migrations.AddField(model_name="billingslice", name="account_names", field=models.JSONField(default=dict)),
        migrations.RunPython(record_names, migrations.RunPython.noop),
    ]
