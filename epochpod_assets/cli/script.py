"""`epochpod script check`: the integrity checks on a plain script file.

The `script` group may also hold the editorial steps (export, import, rewrite), registered by
their own module. `attach` runs after every command module has registered, so `check` joins
the group whoever created it, and creates it when nobody has.
"""

from __future__ import annotations

import argparse
from typing import Any

from epochpod_assets.history import scriptcheck


def _steps(group: argparse.ArgumentParser) -> Any:
    for action in group._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return group.add_subparsers(dest="script_command", required=True, metavar="STEP")


def attach(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `script check` (and the `script` group itself if no module made it)."""
    group = commands.choices.get("script")
    if group is None:
        group = commands.add_parser(
            "script",
            help="work with plain script files",
            description="Plain script files (# Title, ## Section, 'Speaker: text' lines).",
        )
    scriptcheck.register_step(_steps(group))
