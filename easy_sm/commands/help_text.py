"""How `--help` reads: whole one-sentence summaries in command lists (never cut with `...`),
placeholders a person reads (`TEXT`, `N`, `PATH`) instead of Typer's `<str>` / `<int range>`,
and `COMMAND...` instead of `{command}...` in usage lines.

`tidy(command)` is applied by the root group to every command it resolves (and, through
groups, to their sub-commands), so commands added anywhere get the same treatment. An
explicit `metavar=` on an option always wins. Only click/typer objects are touched here: no
heavy imports (this runs on every start).
"""

from __future__ import annotations

import re
from typing import Any

# The first sentence ends at a period followed by white space or the end, unless the period
# belongs to an abbreviation ("e.g.", "i.e.") or an ellipsis ("CMD...").
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\.)\.(?!\.)(?=\s|$)")

_METAVAR_OF_TYPE = {
    "str": "TEXT",
    "text": "TEXT",
    "int": "N",
    "int range": "N",
    "integer": "N",
    "integer range": "N",
    "float": "NUMBER",
    "float range": "NUMBER",
    "path": "PATH",
    "filename": "FILE",
}


def summary(help_text: str) -> str:
    """The first sentence of a command's help, whole (without its final period)."""
    paragraph = help_text.strip().split("\n\n", 1)[0]
    words = " ".join(word for word in paragraph.split() if word != "\b")
    match = _SENTENCE_END.search(words)
    return words[: match.start()] if match else words


def _plain_metavar(param: Any, ctx: Any, *, usage: bool = False) -> str:
    return str(param.metavar)


def tidy(command: Any) -> Any:
    """Readable help for `command` and, if it is a group, for its sub-commands (idempotent)."""
    if getattr(command, "_easy_sm_tidy", False):
        return command
    command._easy_sm_tidy = True
    if command.help and not command.short_help:
        command.short_help = summary(command.help)
    for param in command.params:
        if param.param_type_name == "argument":
            if param.metavar is None:
                param.metavar = param.name.upper() + ("..." if param.nargs != 1 else "")
            # Typer shows a required argument as `{NAME}`; plain NAME reads better.
            param.make_metavar = _plain_metavar.__get__(param)
        elif param.metavar is None and not getattr(param, "is_flag", False):
            name = getattr(param.type, "name", "")
            if name in _METAVAR_OF_TYPE:
                param.metavar = _METAVAR_OF_TYPE[name]
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    return command
