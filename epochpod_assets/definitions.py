"""The Dagster code location: `dagster dev` and `dagster-daemon` load `defs` from here.

Every definition (assets, asset checks, jobs, sensors) lives in the `defs` package and is
found there, not listed here: a new asset, check, job or sensor in `defs/` is part of the code
location once it is defined at a module's top level. Resources and the executor are the only
things given here, because they are built from the settings.
"""

import warnings

import dagster as dg

from epochpod_assets import defs as definitions_package
from epochpod_assets.defs.jobs import executor
from epochpod_assets.defs.notifications import FailureWebhookResource
from epochpod_assets.defs.resources import env, resources_from_env

# Package discovery is marked "preview" in Dagster 1.13; its warning would be printed on every
# command that loads the code location (`epochpod run` promises one line per failed episode),
# and test_definitions pins what it finds, so a change in a patch release is caught there.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    defs = dg.load_definitions_from_package_module(
        definitions_package,
        resources={
            **resources_from_env(),
            "failure_webhook": FailureWebhookResource(url=env("EPOCHPOD_FAILURE_WEBHOOK_URL")),
        },
        # One executor for every job, the ones Dagster builds for UI launches and backfills too.
        executor=executor(),
    )
