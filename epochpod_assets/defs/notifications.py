"""The optional failure notification: a JSON POST to a webhook, like the original's onFailure
alert. Unset means no notification."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import dagster as dg

log = logging.getLogger(__name__)

# Any environment variable whose name says it holds a secret has its value scrubbed from what
# we send: an error message can quote a connection string or a header.
_SECRET_WORDS = ("KEY", "SECRET", "PASSWORD", "TOKEN", "CREDENTIAL")


def redact(text: str) -> str:
    for name, value in os.environ.items():
        if len(value) >= 6 and any(word in name.upper() for word in _SECRET_WORDS):
            text = text.replace(value, "***")
    return text


class FailureWebhookResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where to POST a JSON notice when an episode fails (EPOCHPOD_FAILURE_WEBHOOK_URL).

    The URL itself often carries a token (Slack, Teams), so it comes in as a `dg.EnvVar` and
    is never logged.
    """

    url: str | None = None
    timeout_seconds: float = 10.0

    def notify(self, payload: Mapping[str, Any]) -> bool:
        """Send `payload`; True if the webhook took it. Never raises: a broken webhook must not
        stop the sensor from settling the next episode."""
        if not self.url:
            return False
        body = json.dumps(
            {k: redact(v) if isinstance(v, str) else v for k, v in payload.items()}
        ).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "epochpod"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                status: int = response.status
                return 200 <= status < 300
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            # The URL is a secret; say only what went wrong.
            log.warning("failure webhook did not accept the notice: %s", type(error).__name__)
            return False
