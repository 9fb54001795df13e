"""Every Dagster definition: assets, asset checks, jobs, sensors, resources, partitions."""
