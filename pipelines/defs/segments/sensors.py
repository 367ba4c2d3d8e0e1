"""`segment_sizes_automation_sensor`: records segment sizes whenever customer_features publishes a snapshot.

It evaluates `segment_sizes`' eager automation condition, on from the start (the default automation
sensor would wait to be switched on in the UI).
"""

import dagster as dg

from pipelines.defs.segments.assets import segment_sizes
from pipelines.defs.ticks import AUTOMATION_TICK_S

segment_sizes_automation_sensor = dg.AutomationConditionSensorDefinition(
    "segment_sizes_automation_sensor",
    target=[segment_sizes],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=AUTOMATION_TICK_S,
    description="Materializes segment_sizes after each new customer_features snapshot.",
)
