from django.db import migrations, models


def rebuild_rollups(apps, schema_editor):
    """Existing rollups lack the charge class (usage corrections): recompute them from line items."""
    from finops.usage.rebuild import rollups_rebuild

    models_ = {
        "LineItem": apps.get_model("usage", "LineItem"),
        "DailyCost": apps.get_model("usage", "DailyCost"),
        "DailyTagCost": apps.get_model("usage", "DailyTagCost"),
        "Team": apps.get_model("accounts", "Team"),
    }
    organization_ids = models_["LineItem"].objects.values_list("organization_id", flat=True).distinct().order_by()
    for organization_id in sorted(organization_ids):
        rollups_rebuild(organization_id=organization_id, models=models_)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("usage", "0003_rollup_commitment_status_and_tags"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailycost",
            name="charge_class",
            field=models.TextField(blank=True, db_default="", default=""),
        ),
        migrations.AddField(
            model_name="dailytagcost",
            name="charge_class",
            field=models.TextField(blank=True, db_default="", default=""),
        ),
        migrations.RunPython(rebuild_rollups, migrations.RunPython.noop),
    ]
