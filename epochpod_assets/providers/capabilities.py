"""What each chat server and model can do with `response_format`, learned once and remembered.

OpenAI and recent vLLM, Ollama and llama.cpp servers take a `json_schema` response format.
Others answer 400 to it ("response_format json_schema is not supported"), and some refuse
`response_format` altogether. The writer then steps down a ladder, once per (base URL, model):

    json_schema   the schema enforced by the server (structured outputs)
    json_object   JSON mode; the schema goes in the prompt and is checked here
    text          no response_format; the schema goes in the prompt, the JSON is cut out of the
                  answer and checked here

and remembers the step it reached, in this process and in a small JSON file under
EPOCHPOD_HOME. The file is why run workers (one process per run under the multiprocess
executor, the daemon, ECS tasks on a shared volume) do not each pay a refused request, and its
latency, before their first real one. An entry expires after `REMEMBER_SECONDS`, so a server
upgraded to structured outputs is found out within a day. The API key is never part of the key
or the file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Final, Literal

log = logging.getLogger(__name__)

Mode = Literal["json_schema", "json_object", "text"]
LADDER: Final[tuple[Mode, ...]] = ("json_schema", "json_object", "text")
OPENAI_BASE_URL: Final = "https://api.openai.com/v1"
REMEMBER_SECONDS: Final = 24 * 3600.0
FILE_NAME: Final = "structured_outputs.json"


def server_key(base_url: str | None, model: str) -> str:
    """One server and model: the base URL without a trailing slash (OpenAI's when unset)."""
    return f"{(base_url or OPENAI_BASE_URL).rstrip('/')} {model}"


class StructuredOutputMemory:
    """The ladder step reached per server and model; thread-safe, shared through a file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Mode, float]] = {}

    def mode(self, base_url: str | None, model: str) -> Mode:
        key = server_key(base_url, model)
        with self._lock:
            known = self._known.get(key)
            if known is None or self._expired(known[1]):
                known = self._read().get(key)
                if known is not None and not self._expired(known[1]):
                    self._known[key] = known
                else:
                    known = None
        return known[0] if known else LADDER[0]

    def step_down(self, base_url: str | None, model: str, current: Mode, reason: str) -> Mode:
        """The next rung below `current` (raises if there is none), remembered."""
        index = LADDER.index(current)
        if index + 1 >= len(LADDER):
            raise ValueError(f"{model} refused even a plain-text request: {reason}")
        lower = LADDER[index + 1]
        key = server_key(base_url, model)
        now = time.time()
        with self._lock:
            self._known[key] = (lower, now)
            self._write(key, lower, now)
        log.warning(
            "%s does not take response_format %s (%s); asking for %s from now on",
            key, current, reason, lower,
        )  # fmt: skip
        return lower

    def forget(self) -> None:
        """Drop what this process remembers (tests); the file stays."""
        with self._lock:
            self._known.clear()

    @staticmethod
    def _expired(at: float) -> bool:
        return time.time() - at > REMEMBER_SECONDS

    def _read(self) -> dict[str, tuple[Mode, float]]:
        if self.path is None:
            return {}
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # missing or half-written by a crashed process: probe again
        known: dict[str, tuple[Mode, float]] = {}
        if isinstance(raw, dict):
            for key, entry in raw.items():
                if isinstance(entry, dict) and entry.get("mode") in LADDER:
                    known[key] = (entry["mode"], float(entry.get("at", 0.0)))
        return known

    def _write(self, key: str, mode: Mode, at: float) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            entries = {k: {"mode": m, "at": t} for k, (m, t) in self._read().items()}
            entries[key] = {"mode": mode, "at": at}
            # Written whole and renamed: a reader never sees half a file. Two processes
            # writing at once can lose one entry, which costs one more probe, nothing else.
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".structured-")
            with os.fdopen(fd, "w") as file:
                json.dump(entries, file, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not remember %s's structured-output support: %s", key, exc)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)


_memories: dict[Path | None, StructuredOutputMemory] = {}
_memories_lock = threading.Lock()


def memory_for(home: Path | None) -> StructuredOutputMemory:
    """The process-wide memory whose file lives under `home` (None: this process only)."""
    path = home / "providers" / FILE_NAME if home is not None else None
    with _memories_lock:
        memory = _memories.get(path)
        if memory is None:
            memory = _memories[path] = StructuredOutputMemory(path)
        return memory
