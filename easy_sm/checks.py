"""One line of `easy_sm doctor`: a check, whether it passed, what was found and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    exit_code: int = 1  # the exit code of the error class this failure belongs to

    def line(self) -> str:
        mark = "✔" if self.ok else "✗"
        text = f"{mark} {self.name}: {self.detail}"
        return f"{text} — {self.fix}" if self.fix and not self.ok else text

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("exit_code")
        return found
