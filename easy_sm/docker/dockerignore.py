"""Which files of a folder go into a Docker build context, by `.dockerignore` rules.

Docker's rules (moby's patternmatcher, as the Docker CLI applies them): patterns are matched
in order against the path relative to the context root, and against each of its parent
folders; the last pattern that matches decides (`!pattern` re-includes); `*` and `?` never
cross a `/`, `**` matches any number of folders; `.` and `..` are cleaned out of patterns.
The Dockerfile and `.dockerignore` are always sent.

Standard library only: the staleness check of every local command walks the context with
this, and importing the Docker SDK for it would cost more than the walk itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field


def _clean(pattern: str) -> list[str]:
    """The pattern's path components, with `.` dropped and `..` applied."""
    parts: list[str] = []
    for part in pattern.strip().split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return parts


def _translate(pattern: str) -> str:
    """A shell pattern as a regular expression, with Docker's `**`."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(?:.*/)?")
            else:
                out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append("\\[")
            else:
                body = pattern[i:j].replace("\\", "\\\\")
                i = j + 1
                if body.startswith("!"):
                    body = "^" + body[1:]
                elif body.startswith("^"):
                    body = "\\" + body
                out.append(f"[{body}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


@dataclass
class _Pattern:
    text: str
    exclusion: bool = False
    parts: list[str] = field(default_factory=list)
    cleaned: str = ""
    regex: re.Pattern[str] = field(default_factory=lambda: re.compile(""))

    @classmethod
    def parse(cls, text: str) -> _Pattern:
        exclusion = text.startswith("!")
        parts = _clean(text[1:] if exclusion else text)
        cleaned = "/".join(parts)
        return cls(text, exclusion, parts, cleaned, re.compile(_translate(cleaned)))

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


class ContextMatcher:
    """`.dockerignore` patterns, compiled once; `excluded(path)` and `walk(root)`."""

    def __init__(self, patterns: list[str], dockerfile: str = "Dockerfile") -> None:
        parsed = [_Pattern.parse(p) for p in [*patterns, f"!{dockerfile}", "!.dockerignore"]]
        self.patterns = [p for p in parsed if p.parts]

    def excluded(self, path: str) -> bool:
        """Whether the context-relative posix `path` is left out of the context."""
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            hit = pattern.matches(path)
            if not hit and parents and len(pattern.parts) <= len(parents):
                hit = pattern.matches("/".join(parents[: len(pattern.parts)]))
            if hit:
                matched = not pattern.exclusion
        return matched

    def _may_reinclude(self, folder: str) -> bool:
        return any(p.exclusion and p.cleaned.startswith(folder) for p in self.patterns)

    def walk(self, root: str) -> Iterator[str]:
        """Every path (files, folders, links; relative, posix) that goes into the context."""

        def visit(folder: str, prefix: str) -> Iterator[str]:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                return
            for entry in entries:
                rel = prefix + entry.name
                left_out = self.excluded(rel)
                if not left_out:
                    yield rel
                if not entry.is_dir(follow_symlinks=False):
                    continue
                if left_out and not self._may_reinclude(rel):
                    continue
                yield from visit(entry.path, rel + "/")

        return visit(root, "")


def context_paths(root: str, patterns: list[str], dockerfile: str) -> list[str]:
    """The sorted context of `root` under `patterns` (the Dockerfile always in)."""
    return sorted(ContextMatcher(patterns, dockerfile).walk(root))
