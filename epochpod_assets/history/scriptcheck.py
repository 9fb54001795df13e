"""`epochpod script check FILE --figure NAME --as-of DATE [--source ...] [--json]`.

Runs the pipeline's integrity checks on a plain script file (the format of
`scripting/scriptfile.py`): the time guard on every line (the figure's held to `--as-of`, every
other speaker's treated as a host speaking from today) and, when sources are given, the claim
check of the figure's lines against a fact sheet extracted from them offline.

Exit codes: 0 when nothing blocks, 1 when something does (an anachronism, a contradicted
claim, or more unsupported claims than EPOCHPOD_MAX_UNSUPPORTED_SHARE allows), 2 on bad input
(one line naming the problem). Without sources there is nothing to hold claims to, so only
the time guard runs and the output says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from epochpod_assets.history import claims as claim_check
from epochpod_assets.history import timeguard
from epochpod_assets.history.dates import HistoricalDate, parse_date
from epochpod_assets.history.extract import extract_facts
from epochpod_assets.history.factsheet import FactSheet, Finding
from epochpod_assets.history.fetch import FetchPolicy
from epochpod_assets.history.sources import SourceError, SourceRef, ingest
from epochpod_assets.providers.base import Usage, Writer
from epochpod_assets.providers.offline import OfflineWriter
from epochpod_assets.scripting.scriptfile import ScriptFile, ScriptFileError, parse

# A script is text a person wrote; a file far bigger than this is a mistake.
MAX_SCRIPT_BYTES = 5 * 1024 * 1024
FACTS_PER_SOURCE = 40


class CheckInputError(ValueError):
    """Bad input to the checker; the message is one line naming the problem."""


@dataclass
class ScriptCheck:
    findings: list[Finding]
    figure: str
    as_of: HistoricalDate
    figure_lines: int
    host_lines: int
    sheet: FactSheet | None
    claims: int = 0
    unsupported: int = 0
    max_unsupported_share: float = 0.5
    supported: dict[int, list[int]] = field(default_factory=dict)

    @property
    def unsupported_share(self) -> float:
        return self.unsupported / self.claims if self.claims else 0.0

    @property
    def too_unsupported(self) -> bool:
        return self.unsupported_share > self.max_unsupported_share

    @property
    def blocking(self) -> list[Finding]:
        return [
            finding
            for finding in self.findings
            if finding.kind != "unsupported" or self.too_unsupported
        ]


class _MemoryStore:
    """Media storage for one check: the checker reads sources but keeps nothing."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, content_type: str) -> str:
        self.objects[key] = data
        return f"memory:{key}"

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def exists(self, key: str) -> bool:
        return key in self.objects

    def url(self, key: str) -> str:
        return f"memory:{key}"


def read_script(path: Path) -> ScriptFile:
    try:
        # Never more than the cap and one byte: /dev/zero or a log given by mistake ends here.
        if str(path) == "-":
            data = sys.stdin.buffer.read(MAX_SCRIPT_BYTES + 1)
        else:
            with path.open("rb") as handle:
                data = handle.read(MAX_SCRIPT_BYTES + 1)
    except FileNotFoundError:
        raise CheckInputError(f"{path}: no such file") from None
    except OSError as error:
        raise CheckInputError(f"{path}: cannot read it ({error.strerror or error})") from None
    if len(data) > MAX_SCRIPT_BYTES:
        raise CheckInputError(f"{path}: is larger than the {MAX_SCRIPT_BYTES}-byte cap")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CheckInputError(f"{path}: not UTF-8 text") from None
    try:
        script = parse(text)
    except ScriptFileError as error:
        first, *rest = error.errors
        more = f" (and {len(rest)} more)" if rest else ""
        raise CheckInputError(f"{path}: line {first[0]}: {first[1]}{more}") from None
    if not any(True for _ in script.spoken_lines()):
        raise CheckInputError(f"{path}: no 'Speaker: text' lines to check")
    return script


def build_sheet(
    topic: str, figure: str, locations: list[str], policy: FetchPolicy | None = None
) -> FactSheet:
    """A fact sheet from the sources, extracted offline as the pipeline's offline research
    does. Raises CheckInputError naming a source that cannot be read."""
    store = _MemoryStore()
    sheet = FactSheet(topic=topic)
    for source_id, location in enumerate(locations, start=1):
        try:
            source, text = ingest(store, SourceRef(location=location), source_id, policy)
        except (SourceError, ValueError) as error:
            raise CheckInputError(f"--source {location}: {error}") from None
        sheet.sources.append(source)
        sheet.facts.extend(
            extract_facts(
                text,
                topic=topic,
                figures=[figure],
                limit=FACTS_PER_SOURCE,
                source_id=source_id,
                first_id=len(sheet.facts) + 1,
            )
        )
    return sheet


def check_script(
    script: ScriptFile,
    figure: str,
    as_of: HistoricalDate,
    sheet: FactSheet | None,
    max_unsupported_share: float,
    writer: Writer | None = None,
    usage: Usage | None = None,
) -> ScriptCheck:
    """Every finding on the script's lines, each with its line number in the file.

    With a model `writer` (not the offline one), the model passes run too, as in the graph:
    the time guard's model findings are added (labelled `model`), and a model judges the
    claims against the fact sheet."""
    wanted = " ".join(figure.split()).casefold()
    speakers = script.speakers()
    if not any(" ".join(name.split()).casefold() == wanted for name in speakers):
        raise CheckInputError(
            f"--figure {figure!r} speaks no line; the speakers are {', '.join(speakers)}"
        )
    guard_lines = []
    claim_lines = []
    for line in script.spoken_lines():
        is_figure = " ".join(line.speaker.split()).casefold() == wanted
        guard_lines.append(
            timeguard.GuardLine(
                line.line,
                line.speaker,
                line.text,
                role="figure" if is_figure else "host",
                as_of=as_of if is_figure else None,
            )
        )
        if is_figure:
            claim_lines.append(claim_check.ClaimLine(line.line, line.speaker, line.text))
    findings = timeguard.check_lines(guard_lines)
    use_model = (
        writer is not None and usage is not None and writer.provider != OfflineWriter.provider
    )
    if use_model:
        assert writer is not None and usage is not None
        seen = {(f.line, f.term.casefold()) for f in findings}
        findings.extend(
            finding
            for finding in timeguard.model_findings(writer, guard_lines, usage)
            if (finding.line, finding.term.casefold()) not in seen
        )
    result = ScriptCheck(
        findings=findings,
        figure=figure,
        as_of=as_of,
        figure_lines=len(claim_lines),
        host_lines=len(guard_lines) - len(claim_lines),
        sheet=sheet,
        max_unsupported_share=max_unsupported_share,
    )
    if sheet is not None:
        report = claim_check.check_lines(claim_lines, sheet)
        origin: Literal["claims", "model"] = "claims"
        if use_model:
            assert writer is not None and usage is not None
            report = claim_check.judge(writer, report, sheet, usage)
            origin = "model"
        result.findings.extend(report.findings(origin))
        result.claims = report.claims
        result.unsupported = report.unsupported
        result.supported = report.supported_fact_ids
    result.findings.sort(key=lambda finding: finding.line)
    return result


def to_json(result: ScriptCheck) -> dict[str, Any]:
    return {
        "findings": [
            {
                "line": finding.line,
                "speaker": finding.speaker,
                "kind": finding.kind,
                "term": finding.term,
                "evidence": finding.evidence,
            }
            for finding in result.findings
        ]
    }


def describe(result: ScriptCheck, path: str) -> list[str]:
    out = [
        f"{path}:{finding.line}: {finding.speaker}: {finding.kind} {finding.term!r}: "
        f"{finding.evidence} [{finding.origin}]"
        for finding in result.findings
    ]
    anachronisms = sum(1 for f in result.findings if f.kind == "anachronism")
    contradicted = sum(1 for f in result.findings if f.kind == "contradicted")
    summary = (
        f"{result.figure} as of {result.as_of.display()}: {result.figure_lines} figure line(s), "
        f"{result.host_lines} host line(s); {anachronisms} anachronism(s)"
    )
    if result.sheet is None:
        summary += "; claims not checked (no --source given)"
    else:
        summary += (
            f"; {result.claims} claim(s) against {len(result.sheet.facts)} fact(s): "
            f"{contradicted} contradicted, {result.unsupported} unsupported "
            f"({result.unsupported_share:.0%}, blocks above "
            f"{result.max_unsupported_share:.0%})"
        )
    verdict = "blocks" if result.blocking else "passes"
    out.append(f"{summary}. The script {verdict}.")
    return out


def register_step(steps: Any) -> None:
    """Add `check` to the `epochpod script` command group's sub-commands."""
    check = steps.add_parser(
        "check",
        help="check a plain script file for anachronisms and unsupported claims",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    check.add_argument("file", metavar="FILE", help="a plain script file, or - for stdin")
    check.add_argument("--figure", required=True, metavar="NAME", help="the figure's speaker name")
    check.add_argument(
        "--as-of", required=True, metavar="DATE", help="when the figure speaks: 1921, 44 BC, ..."
    )
    check.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="a .txt, .md, .pdf or .html file or an http(s) URL to check claims against "
        "(repeatable)",
    )
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.set_defaults(run=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from epochpod_assets import settings
    from epochpod_assets.cli.errors import UsageError

    try:
        try:
            as_of = parse_date(args.as_of)
        except ValueError as error:
            raise CheckInputError(f"--as-of: {error}") from None
        script = read_script(Path(args.file))
        sheet = None
        if args.source:
            topic = script.title or args.figure
            sheet = build_sheet(topic, args.figure, list(args.source), FetchPolicy.from_settings())
        writer = configured_writer()
        usage = Usage()
        try:
            result = check_script(
                script,
                args.figure,
                as_of,
                sheet,
                settings.load().max_unsupported_share,
                writer,
                usage,
            )
        finally:
            writer.close()
    except CheckInputError as error:
        raise UsageError(str(error)) from None
    if args.json:
        print(json.dumps(to_json(result), ensure_ascii=False, indent=2))
    else:
        for line in describe(result, args.file):
            print(line)
        if usage.llm_calls:
            print(
                f"Model passes: {usage.llm_calls} call(s) to {writer.model}, "
                f"{usage.tokens} tokens, ${usage.usd:.4f}."
            )
    return 1 if result.blocking else 0


def configured_writer() -> Any:
    """The writer the environment configures (offline unless a model is set up), built as
    the pipeline builds it; the caller closes it."""
    from epochpod_assets import settings
    from epochpod_assets.defs.resources import WriterResource

    config = settings.load()
    base_url, key = config.endpoint("llm")
    resource = WriterResource(
        provider=config.writer,
        model=config.llm_model,
        max_reasks=config.llm_max_reasks,
        api_key=key.get_secret_value() if key else None,
        base_url=base_url,
        timeout=config.openai_timeout,
        max_retries=config.openai_max_retries,
        prices=config.prices,
        rate_limits=config.rate_limits,
    )
    return resource.get()
