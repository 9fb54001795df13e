"""Hostile and mistaken inputs a user can give Epoch Pod, beyond the request corpus in
`support/bad_requests.py` (which `test_reliability_bad_input.py` runs through every way in).

Each case says what the user did, the exit code it must get, and a fragment of the one line it
must print (naming the field, argument or variable). `test_corpus.py` runs them and checks
also that no traceback is printed, no secret is shown, and nothing is written: the catalog's
rows and every file under the test's folder are the same before and after.

Placeholders in arguments and values: `{tmp}` is the test's folder (holding `a_file`, `a_dir`,
and request files, see `test_corpus.FILES`), `{pending}` and `{failed}` are episode ids in
the catalog of the `catalog` state.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from epochpod_assets.requests import MAX_REQUEST_BYTES
from epochpod_assets.settings import Settings
from epochpod_assets_tests.support.bad_requests import ADVENTURE, DEBATE, INTERVIEW

USAGE, FAILED = 2, 1
SECRET = "pw-9f8e7d6c5b"  # a password that must never be shown


@dataclass(frozen=True)
class Case:
    """One mistake. `state` is what exists before: "empty" (no catalog at all) or "catalog"
    (a catalog with a PENDING and a FAILED episode)."""

    name: str
    argv: tuple[str, ...]
    expect: str
    code: int = USAGE
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes = b""
    state: str = "empty"
    lines: int = 1

    @property
    def id(self) -> str:
        return self.name


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(base)), **changes}


ENQUEUE_ADA = ("enqueue", "interview", "--guest", "Ada", "--topic", "engines")
DEBATE_FLAGS = ("enqueue", "debate", "--topic", "t", "--participant", "A=a", "--participant", "B=b")

# -- the command line: flags, arguments, ids, files ------------------------------------------

CLI: list[Case] = [
    Case("no command", (), "the following arguments are required: COMMAND"),
    Case("unknown command", ("publish",), "invalid choice: 'publish'"),
    Case("unknown flag", ("status", "--colour"), "unrecognized arguments: --colour"),
    Case("flag before command", ("--limit", "3", "status"), "invalid choice: '3'"),
    Case("enqueue without a format", ("enqueue",), "required: FORMAT"),
    Case("enqueue unknown format", ("enqueue", "podcast"), "invalid choice: 'podcast'"),
    Case("enqueue flag of another format", (*ENQUEUE_ADA, "--depth", "2"), "--depth"),
    Case(
        "minutes empty",
        (*ENQUEUE_ADA, "--target-minutes", ""),
        "--target-minutes: invalid float value",
    ),
    Case("minutes zero", (*ENQUEUE_ADA, "--target-minutes", "0"), "target_minutes:"),
    Case("minutes 61", (*ENQUEUE_ADA, "--target-minutes", "61"), "target_minutes:"),
    Case("minutes negative", (*ENQUEUE_ADA, "--target-minutes=-5"), "target_minutes:"),
    Case("minutes inf", (*ENQUEUE_ADA, "--target-minutes", "inf"), "target_minutes:"),
    Case("minutes 1e309", (*ENQUEUE_ADA, "--target-minutes", "1e309"), "target_minutes:"),
    Case("minutes with unit", (*ENQUEUE_ADA, "--target-minutes", "5min"), "--target-minutes"),
    Case("minutes missing value", (*ENQUEUE_ADA, "--target-minutes"), "expected one argument"),
    Case("rounds text", (*DEBATE_FLAGS, "--rounds", "three"), "--rounds: invalid int value"),
    Case("rounds zero", (*DEBATE_FLAGS, "--rounds", "0"), "rounds:"),
    Case("rounds seven", (*DEBATE_FLAGS, "--rounds", "7"), "rounds:"),
    Case("rounds true", (*DEBATE_FLAGS, "--rounds", "true"), "--rounds: invalid int value"),
    Case("depth zero", ("enqueue", "adventure", "--setting", "Troy", "--depth", "0"), "depth:"),
    Case(
        "choices one", ("enqueue", "adventure", "--setting", "Troy", "--choices", "1"), "choices:"
    ),
    Case(
        "choices four",
        ("enqueue", "adventure", "--setting", "Troy", "--choices", "4"),
        "choices:",
    ),
    Case(
        "participant without position",
        ("enqueue", "debate", "--topic", "t", "--participant", "A", "--participant", "B=b"),
        "participants.0.position: must not be blank",
    ),
    Case(
        "participant unknown voice",
        (*DEBATE_FLAGS, "--participant", "C=c=darth"),
        "participants.2.voice: unknown voice 'darth'",
    ),
    Case(
        "five participants",
        (*DEBATE_FLAGS, *[f"--participant=P{i}=p" for i in range(3)]),
        "participants: List should have at most 4",
    ),
    Case("topic blank", ("enqueue", "interview", "--guest", "Ada", "--topic", " "), "topic:"),
    Case(
        "guest with a bidi override",
        ("enqueue", "interview", "--guest", "Ada\u202e", "--topic", "t"),
        "guest_name: contains a control character (U+202E)",
    ),
    Case(
        "guest not UTF-8",
        ("enqueue", "interview", "--guest", "Ada \udcff", "--topic", "t"),
        "guest_name: is not valid UTF-8",
    ),
    Case(
        "user id too long",
        (*ENQUEUE_ADA, "--user-id", "u" * 65),
        "user_id: String should have at most 64",
    ),
    Case("host voice empty", (*ENQUEUE_ADA, "--host-voice", ""), "host_voice: unknown voice"),
    Case(
        "guest is the host",
        ("enqueue", "interview", "--guest", "The Epoch Host", "--topic", "t"),
        "guest_name must differ from host_name",
    ),
    # enqueue json: where the request comes from
    Case("json without a file", ("enqueue", "json"), "required: FILE"),
    Case("json two files", ("enqueue", "json", "a", "b"), "unrecognized arguments: b"),
    Case(
        "json missing file",
        ("enqueue", "json", "{tmp}/nowhere.json"),
        "FILE: cannot read '{tmp}/nowhere.json': no such file or directory",
    ),
    Case("json a folder", ("enqueue", "json", "{tmp}/a_dir"), "FILE: cannot read"),
    Case(
        "json a file that cannot be read",
        ("enqueue", "json", "/proc/self/mem"),
        "FILE: cannot read '/proc/self/mem': input/output error",
    ),
    Case("json /dev/zero", ("enqueue", "json", "/dev/zero"), "request: is larger than"),
    Case("json /dev/null", ("enqueue", "json", "/dev/null"), "request: is not valid JSON"),
    Case("json empty file", ("enqueue", "json", "{tmp}/empty.json"), "request: is not valid JSON"),
    Case("json not json", ("enqueue", "json", "{tmp}/prose.json"), "request: is not valid JSON"),
    Case(
        "json a list",
        ("enqueue", "json", "{tmp}/list.json"),
        "request: must be an object with a 'format' field",
    ),
    Case(
        "json field too long in a file",
        ("enqueue", "json", "{tmp}/big_topic.json"),
        "topic: is too long",
    ),
    Case("json file not UTF-8", ("enqueue", "json", "{tmp}/latin1.json"), "not valid UTF-8"),
    Case(
        "json path not UTF-8",
        ("enqueue", "json", "{tmp}/\udcff.json"),
        "source: is not valid UTF-8",
    ),
    # status, retry, cancel: ids and numbers
    Case("status empty id", ("status", ""), "episode_id: must not be empty"),
    Case("status blank id", ("status", "   "), "episode_id: must not be empty"),
    Case("status id not UTF-8", ("status", "ep-\udcff"), "episode_id: is not valid UTF-8"),
    Case("status id huge", ("status", "e" * 10_000), "episode_id: is longer than"),
    Case("status limit zero", ("status", "--limit", "0"), "--limit: must be from 1 to 1000"),
    Case("status limit negative", ("status", "--limit=-3"), "--limit: must be from 1 to 1000"),
    Case(
        "status limit huge",
        ("status", "--limit", "9" * 40),
        "--limit: must be from 1 to 1000",
    ),
    Case("status limit text", ("status", "--limit", "all"), "--limit: must be a whole number"),
    Case("status limit float", ("status", "--limit", "2.5"), "--limit: must be a whole number"),
    Case("status two ids", ("status", "a", "b"), "unrecognized arguments: b"),
    Case(
        "status unknown id",
        ("status", "ep-nope"),
        "episode_id: no episode 'ep-nope' in",
        code=FAILED,
        state="catalog",
    ),
    Case(
        "status of an id with no catalog",
        ("status", "ep-nope"),
        "no catalog at {tmp}/epochpod/catalog.db",
        code=FAILED,
    ),
    Case(
        "status id with markup",
        ("status", "[red]x[/]"),
        "episode_id: no episode '[red]x[/]'",
        code=FAILED,
        state="catalog",
    ),
    Case("retry without id", ("retry",), "required: episode_id"),
    Case("retry empty id", ("retry", ""), "episode_id: must not be empty"),
    Case(
        "retry unknown id",
        ("retry", "ep-nope"),
        "episode_id: no episode 'ep-nope'",
        code=FAILED,
        state="catalog",
    ),
    Case(
        "retry a pending episode",
        ("retry", "{pending}"),
        "is PENDING; only a FAILED, CANCELLED or COMPLETED episode",
        code=FAILED,
        state="catalog",
    ),
    Case("retry with no catalog", ("retry", "ep-x"), "no catalog at", code=FAILED),
    Case(
        "retry id with SQL",
        ("retry", "x' OR '1'='1"),
        "episode_id: no episode \"x' OR '1'='1\"",
        code=FAILED,
        state="catalog",
    ),
    Case("cancel empty id", ("cancel", ""), "episode_id: must not be empty"),
    Case(
        "cancel unknown id",
        ("cancel", "ep-nope"),
        "episode_id: no episode 'ep-nope'",
        code=FAILED,
        state="catalog",
    ),
    # An id no episode has is the same runtime failure for the editorial commands.
    *(
        Case(
            f"{' '.join(argv[:2])} unknown id",
            argv,
            "episode_id: no episode 'ep-nope' in",
            code=FAILED,
            state="catalog",
        )
        for argv in (
            ("approve", "ep-nope"),
            ("reject", "ep-nope", "--note", "shorter"),
            ("script", "export", "ep-nope"),
            ("script", "rewrite", "ep-nope", "1", "--note", "shorter"),
        )
    ),
    Case(
        "cancel a failed episode",
        ("cancel", "{failed}"),
        "is already FAILED",
        code=FAILED,
        state="catalog",
    ),
    Case(
        "cancel wait negative",
        ("cancel", "ep-x", "--wait-seconds=-1"),
        "--wait-seconds: must be from 0 to 3600",
    ),
    Case(
        "cancel wait nan",
        ("cancel", "ep-x", "--wait-seconds", "nan"),
        "--wait-seconds: must be from 0 to 3600",
    ),
    Case("run poll zero", ("run", "--poll-seconds", "0"), "--poll-seconds: must be from 0.1"),
    Case("run poll text", ("run", "--poll-seconds", "soon"), "--poll-seconds: must be a number"),
    # sources given with a request
    Case(
        "source missing",
        (*ENQUEUE_ADA, "--source", "{tmp}/nowhere.txt"),
        "sources.0.location: {tmp}/nowhere.txt: no such file",
    ),
    Case("source a folder", (*ENQUEUE_ADA, "--source", "{tmp}/a_dir.txt"), "sources.0.location:"),
    Case("source /dev/zero", (*ENQUEUE_ADA, "--source", "{tmp}/zero.txt"), "sources.0.location:"),
    Case(
        "source of no known type",
        (*ENQUEUE_ADA, "--source", "{tmp}/a_file"),
        "sources.0.location: {tmp}/a_file: unsupported file type",
    ),
    Case(
        "source empty",
        (*ENQUEUE_ADA, "--source", "{tmp}/empty.md"),
        "sources.0.location: {tmp}/empty.md: no text could be extracted",
    ),
    Case(
        "source by ftp",
        (*ENQUEUE_ADA, "--source", "ftp://example.com/a.txt"),
        "sources.0.location: 'ftp://example.com/a.txt': only http and https URLs are fetched",
    ),
    Case(
        "source as a file URL",
        (*ENQUEUE_ADA, "--source", "file:///etc/passwd"),
        "only http and https URLs are fetched",
    ),
    Case(
        "two bad sources, one line each",
        (*ENQUEUE_ADA, "--source", "{tmp}/prose.json", "--source", "{tmp}/nowhere.md"),
        "sources.1.location:",
        lines=2,
    ),
    # the other command groups (script, review, serve) under the same discipline
    Case(
        "script check missing file",
        ("script", "check", "{tmp}/nowhere.txt", "--figure", "Ada", "--as-of", "1843"),
        "nowhere.txt: no such file",
    ),
    Case(
        "script check a folder",
        ("script", "check", "{tmp}/a_dir", "--figure", "Ada", "--as-of", "1843"),
        "cannot read it (Is a directory)",
    ),
    Case(
        "script check /dev/zero",
        ("script", "check", "/dev/zero", "--figure", "Ada", "--as-of", "1843"),
        "/dev/zero: is larger than the",
    ),
    Case(
        "script check without a figure",
        ("script", "check", "{tmp}/a_file"),
        "required: --figure, --as-of",
    ),
    Case(
        "script import /dev/zero",
        ("script", "import", "{pending}", "/dev/zero"),
        "FILE: '/dev/zero' is larger than",
        state="catalog",
    ),
    Case(
        "script import a folder",
        ("script", "import", "{pending}", "{tmp}/a_dir"),
        "FILE: cannot read",
        state="catalog",
    ),
    Case(
        "script export before there is a script",
        ("script", "export", "{pending}"),
        "has no script yet (it is PENDING)",
        state="catalog",
    ),
    Case(
        "approve an episode not awaiting review",
        ("approve", "{pending}"),
        "is PENDING; this needs AWAITING_REVIEW",
        state="catalog",
    ),
    Case("reject without a note", ("reject", "ep-x"), "required: --note"),
    Case(
        "reject with an empty note",
        ("reject", "{pending}", "--note", " "),
        "note: say what to change",
        state="catalog",
    ),
    Case("serve on port 0", ("serve", "--port", "0"), "--port: must be from 1 to 65535"),
    Case("serve beyond loopback", ("serve", "--host", "0.0.0.0"), "is not a loopback address"),
    Case("migrate extra argument", ("migrate", "now"), "unrecognized arguments: now"),
    Case("demo extra flag", ("demo", "--fast"), "unrecognized arguments: --fast"),
]

# -- the environment: every variable the settings read -----------------------------------------

# (variable, bad value, fragment of the expected line after "VARIABLE=")
_BAD_SETTINGS: list[tuple[str, str, str]] = [
    ("EPOCHPOD_HOME", "{tmp}/a_file", "is a file, not a folder"),
    ("EPOCHPOD_DATABASE_URL", "nonsense", "is not a database URL"),
    ("EPOCHPOD_DATABASE_URL", "catalog.db", "is not a database URL"),
    ("EPOCHPOD_DATABASE_URL", f"mysql://ada:{SECRET}@db/pod", "needs the mysql driver"),
    ("EPOCHPOD_DATABASE_URL", "oracle://db/pod", "needs the oracle driver"),
    ("EPOCHPOD_DATABASE_URL", "foo://db/pod", "names an unknown database kind 'foo'"),
    ("EPOCHPOD_DATABASE_URL", "postgresql+nosuch://db/pod", "unknown database kind"),
    ("EPOCHPOD_DATABASE_URL", "http://example.com/db", "unknown database kind 'http'"),
    ("EPOCHPOD_MEDIA_DIR", "{tmp}/a_file", "is a file, not a folder"),
    ("DAGSTER_HOME", "{tmp}/a_file", "is a file, not a folder"),
    ("EPOCHPOD_STORAGE_URL", "s3:/bucket/prefix", "looks like a URL but is not s3://"),
    ("EPOCHPOD_STORAGE_URL", "s3:bucket", "looks like a URL but is not s3://"),
    ("EPOCHPOD_STORAGE_URL", "s3://", "names no bucket"),
    ("EPOCHPOD_STORAGE_URL", "gs://bucket/pod", "looks like a URL"),
    ("EPOCHPOD_STORAGE_URL", f"https://user:{SECRET}@cdn/pod", "looks like a URL"),
    ("EPOCHPOD_S3_ENDPOINT_URL", "minio:9000", "is not a URL of that kind"),
    ("EPOCHPOD_S3_ENDPOINT_URL", "ftp://minio", "is not a URL of that kind"),
    ("AWS_ENDPOINT_URL", "localhost", "is not a URL of that kind"),
    ("EPOCHPOD_S3_PRESIGN_SECONDS", "-1", "expected whole seconds from 0 to 604800"),
    ("EPOCHPOD_S3_PRESIGN_SECONDS", "604801", "expected whole seconds from 0 to 604800"),
    ("EPOCHPOD_S3_PRESIGN_SECONDS", "a week", "expected whole seconds"),
    ("EPOCHPOD_S3_PRESIGN_SECONDS", "true", "expected whole seconds"),
    ("EPOCHPOD_PUBLIC_BASE_URL", "cdn.example.com/pod", "is not a URL of that kind"),
    ("EPOCHPOD_PUBLIC_BASE_URL", "javascript:alert(1)", "is not a URL of that kind"),
    ("OPENAI_BASE_URL", "localhost:11434/v1", "is not a URL of that kind"),
    ("OPENAI_BASE_URL", "ws://localhost/v1", "is not a URL of that kind"),
    ("EPOCHPOD_WRITER", "gpt-4o", "expected auto, offline or openai"),
    ("EPOCHPOD_WRITER", "1", "expected auto, offline or openai"),
    (
        "EPOCHPOD_WRITER",
        "openai",
        "needs OPENAI_API_KEY (or EPOCHPOD_LLM_API_KEY), which is not set",
    ),
    ("EPOCHPOD_VOICE", "espeak", "expected auto, offline or openai"),
    (
        "EPOCHPOD_VOICE",
        "openai",
        "needs OPENAI_API_KEY (or EPOCHPOD_TTS_API_KEY), which is not set",
    ),
    ("EPOCHPOD_OPENAI_TIMEOUT", "0", "expected a number of seconds above 0"),
    ("EPOCHPOD_OPENAI_TIMEOUT", "-5", "expected a number of seconds above 0"),
    ("EPOCHPOD_OPENAI_TIMEOUT", "inf", "expected a number of seconds above 0"),
    ("EPOCHPOD_OPENAI_TIMEOUT", "nan", "expected a number of seconds above 0"),
    ("EPOCHPOD_OPENAI_TIMEOUT", "2m", "expected a number of seconds above 0"),
    ("EPOCHPOD_OPENAI_MAX_RETRIES", "-1", "expected a whole number from 0 to 20"),
    ("EPOCHPOD_OPENAI_MAX_RETRIES", "100", "expected a whole number from 0 to 20"),
    ("EPOCHPOD_OPENAI_MAX_RETRIES", "2.5", "expected a whole number from 0 to 20"),
    ("EPOCHPOD_LLM_MAX_REASKS", "-1", "expected a whole number from 0 to 10"),
    ("EPOCHPOD_LLM_MAX_REASKS", "many", "expected a whole number from 0 to 10"),
    ("EPOCHPOD_PRICES", "{not json", "price override is not valid JSON"),
    ("EPOCHPOD_PRICES", '{"llm": 5, "bogus": 1}', "unknown keys"),
    ("EPOCHPOD_PRICES", "{tmp}/nowhere.json", "cannot read price file"),
    ("EPOCHPOD_PRICES", "[1, 2]", "cannot read price file"),
    ("EPOCHPOD_MAX_EPISODE_USD", "-1", "expected a non-negative number of US dollars"),
    ("EPOCHPOD_MAX_EPISODE_USD", "nan", "expected a non-negative number of US dollars"),
    ("EPOCHPOD_MAX_EPISODE_USD", "inf", "expected a non-negative number of US dollars"),
    ("EPOCHPOD_MAX_EPISODE_USD", "1e400", "expected a non-negative number of US dollars"),
    ("EPOCHPOD_MAX_EPISODE_USD", "$5", "expected a non-negative number of US dollars"),
    (
        "EPOCHPOD_RATE_LIMITS",
        '{"gpt-4o-mini": {"rpm": 500, "burst_seconds": Infinity}}',
        "burst_seconds must be a finite number",
    ),
    ("EPOCHPOD_RATE_LIMITS", '{"tts-1": {"rpm": NaN}}', "requests_per_minute must be a positive"),
    ("EPOCHPOD_RATE_LIMITS", '{"tts-1": {"rpm": Infinity}}', "must be a positive number"),
    ("EPOCHPOD_RATE_LIMITS", '{"tts-1": {"rpm": true}}', "must be a number, got true"),
    ("EPOCHPOD_RATE_LIMITS", '{"tts-1": {"rpm": "50"}}', 'must be a number, got "50"'),
    ("EPOCHPOD_RATE_LIMITS", '{"tts-1": {"rpm": -1}}', "must be a positive number"),
    ("EPOCHPOD_RATE_LIMITS", '{"tts-1": {"rps": 5}}', "must be an object with rpm, tpm"),
    ("EPOCHPOD_RATE_LIMITS", '{"tts-1": 50}', "must be an object with rpm, tpm"),
    ("EPOCHPOD_RATE_LIMITS", "{tts-1: 50}", "is not valid JSON"),
    ("EPOCHPOD_RATE_LIMITS", "[50]", "cannot read '[50]'"),
    ("EPOCHPOD_RATE_LIMITS", "{tmp}/nowhere.json", "cannot read"),
    ("EPOCHPOD_RATE_LIMITS", "{tmp}/a_dir", "cannot read"),
    ("EPOCHPOD_RATE_LIMIT_URL", "redis://cache:6379", "unknown database kind 'redis'"),
    ("EPOCHPOD_RATE_LIMIT_URL", "limits", "is not a database URL"),
    ("EPOCHPOD_RATE_LIMIT_URL", f"mysql://ada:{SECRET}@db/limits", "needs the mysql driver"),
    ("EPOCHPOD_TTS_CONCURRENCY", "0", "expected a whole number from 1 to 64"),
    ("EPOCHPOD_TTS_CONCURRENCY", "1000", "expected a whole number from 1 to 64"),
    ("EPOCHPOD_TTS_CONCURRENCY", "eight", "expected a whole number from 1 to 64"),
    ("EPOCHPOD_MP3_BITRATE", "999k", "MP3 bitrate '999k' is not valid at 24000 Hz"),
    ("EPOCHPOD_MP3_BITRATE", "320k", "MP3 bitrate '320k' is not valid"),
    ("EPOCHPOD_MP3_BITRATE", "high", "MP3 bitrate 'high' is not valid"),
    ("EPOCHPOD_AUDIO_BEDS", "maybe", "expected true or false"),
    ("EPOCHPOD_AUDIO_BEDS", "2", "expected true or false"),
    ("EPOCHPOD_LEXICON", "{tmp}/nowhere.json", "cannot read"),
    ("EPOCHPOD_LEXICON", "{tmp}/prose.json", "is not a valid lexicon"),
    ("EPOCHPOD_SENSOR_BATCH", "0", "expected a whole number from 1 to 10000"),
    ("EPOCHPOD_SENSOR_BATCH", "abc", "expected a whole number from 1 to 10000"),
    ("EPOCHPOD_SENSOR_BATCH", "10001", "expected a whole number from 1 to 10000"),
    ("EPOCHPOD_SENSOR_BATCH", "true", "expected a whole number from 1 to 10000"),
    ("EPOCHPOD_SENSOR_LEASE_SECONDS", "0", "expected whole seconds, at least 1"),
    ("EPOCHPOD_SENSOR_LEASE_SECONDS", "10m", "expected whole seconds, at least 1"),
    ("EPOCHPOD_SENSOR_INTERVAL_SECONDS", "0", "expected whole seconds, at least 1"),
    ("EPOCHPOD_SENSOR_INTERVAL_SECONDS", "1.5", "expected whole seconds, at least 1"),
    ("EPOCHPOD_SWEEPER_INTERVAL_SECONDS", "-60", "expected whole seconds, at least 1"),
    ("EPOCHPOD_RUN_MAX_RUNTIME_SECONDS", "0", "expected whole seconds, at least 1"),
    ("EPOCHPOD_RUN_MAX_RUNTIME_SECONDS", "1h", "expected whole seconds, at least 1"),
    ("EPOCHPOD_FAILURE_WEBHOOK_URL", f"hooks.example.com/{SECRET}", "is not an http(s):// URL"),
    ("EPOCHPOD_FAILURE_WEBHOOK_URL", f"ftp://hooks/{SECRET}", "is not an http(s):// URL"),
    ("EPOCHPOD_FEED_LINK", "epochpod.example.com", "is not a URL of that kind"),
    ("EPOCHPOD_FEED_IMAGE_URL", "cover.jpg", "is not a URL of that kind"),
    ("EPOCHPOD_FEED_OWNER_EMAIL", "show at example.com", "is not an email address"),
    ("EPOCHPOD_FEED_LANGUAGE", "English", "is not a language code"),
    ("EPOCHPOD_FEED_EXPLICIT", "clean", "expected true or false"),
    ("EPOCHPOD_EXECUTOR", "threads", "expected in_process or multiprocess"),
]


def _env_case(variable: str, value: str, expect: str) -> Case:
    return Case(
        name=f"{variable}={value[:40]}",
        argv=("status",),
        env={variable: value},
        expect=f"{variable}=",
        # The rest of the line is checked by `test_corpus` against `ENV_EXPECT`.
    )


def _typed_mistakes() -> list[tuple[str, str, str]]:
    """One mistake for every variable of a typed setting (number, true/false, a choice),
    found from `Settings` itself: a variable someone adds later is in the corpus at once."""
    mistakes = []
    for name, info in Settings.model_fields.items():
        kind: Any = info.annotation
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
            options = [a for a in typing.get_args(kind) if a is not type(None)]
            kind = options[0] if len(options) == 1 else None
        value = {int: "12x", float: "1,5", bool: "perhaps"}.get(kind)
        if typing.get_origin(kind) is typing.Literal:
            value = "no-such-choice"
        if value is not None:
            variable = Settings.variable(name)
            mistakes.append((variable, value, f"{variable}='{value}': expected {info.description}"))
    return mistakes


TYPED_MISTAKES = _typed_mistakes()
ENV: list[Case] = [_env_case(*bad) for bad in _BAD_SETTINGS + TYPED_MISTAKES]
ENV_EXPECT = {f"{v}={value[:40]}": e for v, value, e in _BAD_SETTINGS + TYPED_MISTAKES}
ENV += [
    Case(
        "two bad variables, two lines",
        ("status",),
        "EPOCHPOD_SENSOR_BATCH='x'",
        env={"EPOCHPOD_SENSOR_BATCH": "x", "EPOCHPOD_TTS_CONCURRENCY": "y"},
        lines=2,
    ),
    Case(
        "bad variable stops enqueue before validation writes anything",
        ENQUEUE_ADA,
        "EPOCHPOD_RATE_LIMITS=",
        env={"EPOCHPOD_RATE_LIMITS": "{"},
    ),
    Case(
        "EPOCHPOD_HOME under a file",
        ENQUEUE_ADA,
        "EPOCHPOD_HOME='{tmp}/a_file/home': cannot create {tmp}/a_file/home (Not a directory)",
        env={"EPOCHPOD_HOME": "{tmp}/a_file/home"},
    ),
    Case(
        "EPOCHPOD_HOME cannot be created",
        ENQUEUE_ADA,
        "EPOCHPOD_HOME='/proc/epochpod': cannot create /proc/epochpod",
        env={"EPOCHPOD_HOME": "/proc/epochpod"},
    ),
    Case(
        "sqlite catalog in a folder that cannot be created",
        ENQUEUE_ADA,
        "EPOCHPOD_DATABASE_URL='sqlite:////proc/epochpod/catalog.db': cannot create",
        env={"EPOCHPOD_DATABASE_URL": "sqlite:////proc/epochpod/catalog.db"},
    ),
    Case(
        "DAGSTER_HOME cannot be created",
        ("cancel", "{pending}", "--wait-seconds", "0"),
        "DAGSTER_HOME='/proc/dagster': cannot create /proc/dagster",
        env={"DAGSTER_HOME": "/proc/dagster"},
        state="catalog",
    ),
    Case(
        "unreachable PostgreSQL, password masked",
        ("status",),
        "catalog database postgresql://ada:***@127.0.0.1:1/pod: connection failed",
        code=FAILED,
        env={"EPOCHPOD_DATABASE_URL": f"postgresql://ada:{SECRET}@127.0.0.1:1/pod"},
    ),
    Case(
        "catalog file that is not a database",
        ("status",),
        "catalog database sqlite:///{tmp}/a_file: file is not a database",
        code=FAILED,
        env={"EPOCHPOD_DATABASE_URL": "sqlite:///{tmp}/a_file"},
    ),
    Case(
        "catalog file that is a folder",
        ("status", "--json"),
        "catalog database sqlite:///{tmp}/a_dir: unable to open database file",
        code=FAILED,
        env={"EPOCHPOD_DATABASE_URL": "sqlite:///{tmp}/a_dir"},
    ),
    Case(
        "unreachable PostgreSQL on enqueue",
        ENQUEUE_ADA,
        "catalog database postgresql://127.0.0.1:1/pod:",
        code=FAILED,
        env={"EPOCHPOD_DATABASE_URL": "postgresql://127.0.0.1:1/pod"},
    ),
    Case(
        "a misspelled variable is named with the one it nearly spells",
        ("status",),
        "EPOCHPOD_DATABSE_URL='postgresql://ada:***@db/pod': is not a setting; "
        "expected EPOCHPOD_DATABASE_URL",
        env={"EPOCHPOD_DATABSE_URL": f"postgresql://ada:{SECRET}@db/pod"},
    ),
    Case(
        "a misspelled secret is masked whole",
        ("status",),
        "EPOCHPOD_FAILURE_WEBHOK_URL='***': is not a setting",
        env={"EPOCHPOD_FAILURE_WEBHOK_URL": f"https://hooks.example.com/{SECRET}"},
    ),
    Case(
        "a misspelled number variable",
        ("status",),
        "EPOCHPOD_SENSOR_BATCHES='5': is not a setting; expected EPOCHPOD_SENSOR_BATCH",
        env={"EPOCHPOD_SENSOR_BATCHES": "5"},
    ),
    Case(
        "secret key never shown in an unrelated error",
        ("status",),
        "EPOCHPOD_SENSOR_BATCH=",
        env={"EPOCHPOD_SENSOR_BATCH": "-1", "OPENAI_API_KEY": f"sk-{SECRET}"},
    ),
]

# -- JSON requests: new kinds of mistakes beyond support/bad_requests.py ------------------------

# (name, request, fragment). Each goes through `enqueue json -`, `enqueue json FILE` and the
# Python API's `enqueue`.
_BIG = "x" * (MAX_REQUEST_BYTES + 1)
JSON: list[tuple[str, Any, str]] = [
    ("minutes true", _with(INTERVIEW, target_minutes=True), "target_minutes: must be a number"),
    ("minutes false", _with(INTERVIEW, target_minutes=False), "target_minutes: must be a number"),
    ("rounds true", _with(DEBATE, rounds=True), "rounds: must be a number, not true"),
    ("depth true", _with(ADVENTURE, depth=True), "depth: must be a number, not true"),
    ("choices false", _with(ADVENTURE, choices=False), "choices: must be a number, not false"),
    ("minutes null", _with(INTERVIEW, target_minutes=None), "target_minutes:"),
    ("minutes a list", _with(INTERVIEW, target_minutes=[5]), "target_minutes:"),
    ("rounds huge", _with(DEBATE, rounds=10**30), "rounds:"),
    ("oversized topic named", _with(INTERVIEW, topic=_BIG), "topic: is too long"),
    ("oversized guest named", _with(INTERVIEW, guest_name=_BIG), "guest_name: is too long"),
    ("oversized user id named", _with(INTERVIEW, user_id=_BIG), "user_id: is too long"),
    ("oversized premise named", _with(ADVENTURE, premise=_BIG), "premise: is too long"),
    (
        "oversized position named",
        _with(
            DEBATE, participants=[{"name": "A", "position": _BIG}, {"name": "B", "position": "b"}]
        ),
        "participants.0.position: is too long",
    ),
    (
        "oversized nested padding named",
        _with(INTERVIEW, extra={"deeper": {"padding": _BIG}}),
        "extra.deeper.padding: is too long",
    ),
    (
        "participants not objects",
        _with(DEBATE, participants=[1, {"name": "B", "position": "b"}]),
        "participants.0: Input should be a valid dictionary",
    ),
    (
        "participant without position",
        _with(DEBATE, participants=[{"name": "A"}, {"name": "B", "position": "b"}]),
        "participants.0.position: is required",
    ),
    (
        "participant voice null",
        _with(
            DEBATE,
            participants=[
                {"name": "A", "position": "a", "voice": 7},
                {"name": "B", "position": "b"},
            ],
        ),
        "participants.0.voice:",
    ),
    ("voice with markup", _with(INTERVIEW, host_voice="[b]onyx[/b]"), "host_voice: unknown voice"),
    ("title field", _with(INTERVIEW, title="My title"), "title: is not a known field"),
    ("id field", _with(INTERVIEW, id="ep-1"), "id: is not a known field"),
    ("status field", _with(INTERVIEW, generation_status="COMPLETED"), "generation_status:"),
    ("format with spaces", _with(INTERVIEW, format=" interview"), "format: must be one of"),
    ("format a number", _with(INTERVIEW, format=1), "format: must be one of"),
    ("depth fractional", _with(ADVENTURE, depth=2.5), "depth:"),
    ("minutes with a unit", _with(INTERVIEW, target_minutes="5 min"), "target_minutes:"),
]

# -- the launchpad's request_episode job ---------------------------------------------------------

_FIELDS = {k: v for k, v in INTERVIEW.items() if k != "format"}
# The launchpad's config: one key, a format with its fields, or `request_json`. Its typed form
# refuses some before any run (Dagster's own words, naming the path); the request model the rest.
LAUNCH: list[tuple[str, dict[str, Any], str]] = [
    (
        "fields minutes true",
        {"interview": {**_FIELDS, "target_minutes": True}},
        "target_minutes: must be a number, not true",
    ),
    (
        "fields depth true",
        {"adventure": {"setting": "Troy", "depth": True}},
        "root:adventure:depth",
    ),
    (
        "fields oversized topic named",
        {"interview": {**_FIELDS, "topic": _BIG}},
        "topic: is too long",
    ),
    ("no format", {}, "Must specify a field at the root"),
    ("format empty", {"": _FIELDS}, 'unexpected config entry ""'),
    (
        "request_json not json",
        {"request_json": "{guest_name: Ada}"},
        "request: is not valid JSON",
    ),
    (
        "request_json minutes true",
        {"request_json": json.dumps(_with(INTERVIEW, target_minutes=True))},
        "target_minutes: must be a number, not true",
    ),
    (
        "request_json oversized field named",
        {"request_json": json.dumps(_with(INTERVIEW, angle=_BIG))},
        "angle: is too long",
    ),
    (
        "fields with markup voice",
        {"interview": {**_FIELDS, "guest_voice": "[/]"}},
        "root:interview:guest_voice not in enum type Voice",
    ),
    (
        "fields field of another format",
        {"interview": {**_FIELDS, "rounds": 2}},
        'unexpected config entry "rounds"',
    ),
]

# -- the Python API: values only Python can pass --------------------------------------------------

_I = {"format": "interview", "guest_name": "Ada", "topic": "t"}
API: list[tuple[str, Any, str]] = [
    ("None", None, "request: must be an object with a 'format' field"),
    ("an int", 42, "request: must be an object"),
    ("a set", {"interview"}, "request: must be an object"),
    ("an object", object(), "request: must be an object"),
    ("a tuple", ("interview",), "request: must be an object"),
    ("a bytearray", bytearray(b'{"format": "interview"}'), "request: must be an object"),
    ("a memoryview", memoryview(b"{}"), "request: must be an object"),
    ("a key that is not text", {**_I, 1: "x"}, "1: Keys should be strings"),
    ("a datetime topic", {**_I, "topic": __import__("datetime").date(1843, 1, 1)}, "topic:"),
    ("a generator topic", {**_I, "topic": (c for c in "ab")}, "topic: Input should be"),
    ("a list topic", {**_I, "topic": ["a"]}, "topic: Input should be a valid string"),
    ("NaN minutes", {**_I, "target_minutes": float("nan")}, "target_minutes:"),
    ("minutes of 400 digits", {**_I, "target_minutes": 10**400}, "target_minutes:"),
    ("a lone surrogate", {**_I, "guest_name": "Ada \udcff"}, "guest_name:"),
    ("format as bytes", {**_I, "format": b"interview"}, "format: must be one of"),
    ("format as a class", {**_I, "format": str}, "format: must be one of"),
]
