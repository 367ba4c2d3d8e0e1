"""segment_sizes records every saved segment at each new customer_features snapshot, and runs by itself after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import Engine

from engine.segments import parse_rule
from engine.segments.history import membership_changes, size_history
from engine.segments.store import SavedSegment, create_segment
from pipelines.definitions import defs
from pipelines.defs.features.assets import customer_features
from pipelines.defs.resources import XenoResource
from pipelines.defs.segments.assets import segment_sizes
from pipelines.defs.segments.sensors import segment_sizes_automation_sensor
from tests.engine.features.data import add_customer, add_order, days_ago

RESOURCES = {"xeno": XenoResource()}


@pytest.fixture
def big_spenders(database: Engine, data_dir: Path) -> SavedSegment:
    rule = parse_rule({"field": "total_spend", "op": ">=", "value": 100})
    return create_segment(database, name="Big spenders", rule=rule, owner_id=None)


def test_the_definitions_load() -> None:
    graph = defs.resolve_asset_graph()
    assert graph.get(segment_sizes.key).parent_keys == {customer_features.key}
    sensor = defs.resolve_sensor_def("segment_sizes_automation_sensor")
    assert sensor.default_status is dg.DefaultSensorStatus.RUNNING


def test_each_snapshot_records_sizes_and_who_entered_and_left(
    database: Engine, big_spenders: SavedSegment, instance: dg.DagsterInstance
) -> None:
    ada, bob = add_customer(database, "ada"), add_customer(database, "bob")
    add_order(database, ada, "150.00", days_ago(3))
    assert dg.materialize([customer_features, segment_sizes], resources=RESOURCES, instance=instance).success
    add_order(database, bob, "120.00", days_ago(1))
    carol = add_customer(database, "carol")

    result = dg.materialize([customer_features, segment_sizes], resources=RESOURCES, instance=instance)

    assert result.success
    assert [
        (r.snapshot_version, r.size, r.entered_count, r.left_count) for r in size_history(database, big_spenders.id)
    ] == [
        (1, 1, None, None),
        (2, 2, 1, 0),
    ]
    assert membership_changes(database, big_spenders.id).entered.tolist() == [bob]
    assert carol not in membership_changes(database, big_spenders.id).entered.tolist()
    [materialization] = result.asset_materializations_for_node("segment_sizes")
    metadata = {name: value.value for name, value in materialization.metadata.items()}
    assert (metadata["snapshot_version"], metadata["sizes"], metadata["entered"]) == (2, {str(big_spenders.id): 2}, 1)


def test_a_segment_whose_rule_no_longer_fits_is_reported_and_the_rest_recorded(
    database: Engine, big_spenders: SavedSegment, instance: dg.DagsterInstance
) -> None:
    add_customer(database, "ada", traits={"plan": "gold"})
    assert dg.materialize([customer_features], resources=RESOURCES, instance=instance).success
    gold = create_segment(
        database, name="Gold", rule=parse_rule({"field": "trait_plan", "op": "=", "value": "gold"}), owner_id=None
    )
    add_customer(database, "bob")
    with database.begin() as conn:
        conn.exec_driver_sql("UPDATE customers SET traits = '{}'")

    result = dg.materialize([customer_features, segment_sizes], resources=RESOURCES, instance=instance)

    [materialization] = result.asset_materializations_for_node("segment_sizes")
    refused: Any = materialization.metadata["refused"].value
    assert list(refused) == [str(gold.id)]
    assert "trait_plan: unknown field" in refused[str(gold.id)]
    assert [record.size for record in size_history(database, big_spenders.id)] == [0]


def test_without_a_snapshot_the_asset_fails_saying_why(
    database: Engine, data_dir: Path, instance: dg.DagsterInstance
) -> None:
    result = dg.materialize(
        [customer_features, segment_sizes],
        resources=RESOURCES,
        instance=instance,
        selection=[segment_sizes],
        raise_on_error=False,
    )

    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "materialize customer_features first" in str(failure.step_failure_data.error)


def test_a_new_customer_features_snapshot_requests_segment_sizes(
    database: Engine, data_dir: Path, instance: dg.DagsterInstance
) -> None:
    add_customer(database, "ada")
    selection = segment_sizes_automation_sensor.asset_selection
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection)
    dg.materialize([customer_features], resources=RESOURCES, instance=instance)

    after = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection, cursor=first.cursor
    )

    assert first.total_requested == 0
    assert (after.total_requested, after.get_num_requested(segment_sizes.key)) == (1, 1)
