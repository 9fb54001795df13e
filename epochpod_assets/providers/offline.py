"""The default writer: no API key, no network, the same words for the same request."""

from __future__ import annotations

from epochpod_assets.providers.base import T, Usage, WritingTask


class OfflineWriter:
    """Writes from the format's templates (see `formats/prose.py`). Not a language model: the
    metadata of every asset it writes says `writer: offline-template`."""

    provider = "offline-template"
    model = "epochpod-templates-1"

    def write(self, task: WritingTask[T], usage: Usage) -> T:
        answer = task.template()
        if task.check is not None:
            # A template that breaks its own format's rules is a bug here, not bad luck.
            task.check(answer)
        return answer
