"""One partition per episode: the partition key is the episode id."""

import dagster as dg

episodes_partitions = dg.DynamicPartitionsDefinition(name="episodes")
