"""How often the sensors look for work, in one place: an idle product pays for every tick (a gRPC call to the code
server, the sensor's query, a tick row in Dagster's storage), and work that arrives at rest waits up to one tick to
start. Busy work does not wait for ticks: following runs take it as it comes (`pipelines.defs.following`), and
their successors are asked for a minute ahead.
"""

# ingest backlog, feature deltas and due campaigns: the first event or launch after a quiet spell starts within this
SENSOR_TICK_S = 10
# features behind the data: a refresh is asked for at most once per XENO_FEATURES_MIN_INTERVAL_S (30 s) anyway
STALE_TICK_S = 30
# segment sizes after a new snapshot (the automation condition sensor; Dagster's default is 30 s)
AUTOMATION_TICK_S = 60
