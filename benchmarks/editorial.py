"""What each editorial action pays for, counted by the provider (the fake OpenAI server).

    .venv/bin/python benchmarks/editorial.py

Makes a one-minute interview through the real `openai` client against the fake server on
loopback, with the real sensors and runs (`epochpod run`'s worker) and the `epochpod` command
line, in a throwaway EPOCHPOD_HOME, then prints the server's own count of writer (chat) and
speech calls for:

    export -> import unchanged        (target: 0 speech calls)
    one line edited and imported      (target: exactly 1 speech call)
    `script rewrite` of one line      (target: 1 writer call, 1 speech call)
    bring your own script             (target: 0 writer calls)
    review: reject, then approve      (reject bills only the writer)

and the whole episode's first generation beside them, for scale.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake server and its template model live with the tests

KEY = "sk-benchmark-editorial"
INTERVIEW = ["interview", "--guest", "Ada Lovelace", "--topic", "the engine"]
OWN = """\
# Rome's first emperor

## Opening

Mary Beard: Today I am talking to the man who ended the Roman Republic.
Augustus: I restored it, as my own account of my deeds says.

## The settlement

Mary Beard: Then why did every real power end up in your hands?
Augustus: Because the Senate and people gave it to me, one honour at a time.
"""


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="epochpod-editorial-"))
    os.environ.update(
        EPOCHPOD_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), OPENAI_API_KEY=KEY
    )
    for name in ("EPOCHPOD_DATABASE_URL", "EPOCHPOD_MEDIA_DIR", "EPOCHPOD_REVIEW_DEFAULT"):
        os.environ.pop(name, None)
    from epochpod_assets_tests.support.fake_openai import FakeOpenAI, requested_schema_name
    from epochpod_assets_tests.support.template_model import template_responder

    def responder(body: dict[str, Any]) -> str:
        if requested_schema_name(body) == "RewrittenLine":
            return json.dumps({"text": "That is the short answer, and I stand by it."})
        return template_responder(body)

    with FakeOpenAI(api_key=KEY, responder=responder) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url
        import dagster as dg

        from epochpod_assets import cli, settings
        from epochpod_assets.definitions import defs
        from epochpod_assets.defs.resources import resources_from_env
        from epochpod_assets.worker import work_queue

        settings.reload()
        location = dg.Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            jobs=defs.jobs,
            sensors=defs.sensors,
            resources={**(defs.resources or {}), **resources_from_env()},
        )
        rows: list[tuple[str, int, int, str]] = []
        with dg.instance_for_test() as instance:

            def epochpod(*args: str) -> str:
                out = io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                    code = cli.main(list(args))
                if code != 0:
                    raise SystemExit(f"epochpod {' '.join(args)} exited {code}")
                return out.getvalue().strip()

            def measure(what: str, target: str, *commands: tuple[str, ...]) -> str:
                server.reset()
                last = ""
                for command in commands:
                    last = epochpod(*command)
                report = work_queue(location, instance, log_level="CRITICAL")
                if report.failed:
                    raise SystemExit(f"{what}: a run failed")
                stats = server.stats()
                rows.append((what, stats.chat_billed, stats.speech_billed, target))
                return last

            episode = measure(
                "new 1-minute interview", "-", ("enqueue", *INTERVIEW, "--target-minutes", "1")
            )
            script = home / "script.txt"
            epochpod("script", "export", episode, "-o", str(script))
            measure("import unchanged", "0 speech", ("script", "import", episode, str(script)))
            text = script.read_text()
            line = next(r for r in text.split("\n") if r.startswith("Ada Lovelace: "))
            edited = home / "edited.txt"
            edited.write_text(text.replace(line, "Ada Lovelace: I would put it differently."))
            measure("import, 1 line edited", "1 speech", ("script", "import", episode, str(edited)))
            number = next(
                i for i, r in enumerate(text.split("\n"), 1) if r.startswith("The Epoch Host: ")
            )
            measure(
                f"rewrite line {number}",
                "1 writer, 1 speech",
                ("script", "rewrite", episode, str(number), "--note", "shorter"),
            )
            own = home / "own.txt"
            own.write_text(OWN)
            measure(
                "bring your own script",
                "0 writer",
                ("enqueue", "script", str(own), "--format", "interview"),
            )
            # Another guest, so that none of its lines is in the segment cache already.
            ask = ("enqueue", "interview", "--guest", "Charles Babbage", "--topic", "engines",
                   "--target-minutes", "1", "--review")  # fmt: skip
            reviewed = measure("review: write, then wait", "no speech", ask)
            measure("review: reject", "writer only", ("reject", reviewed, "--note", "warmer"))
            measure("review: approve", "no writer", ("approve", reviewed))

    print(f"{'action':<26} {'writer calls':>12} {'speech calls':>12}   target")
    for what, chat, speech, target in rows:
        print(f"{what:<26} {chat:>12} {speech:>12}   {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
