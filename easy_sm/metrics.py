"""Metric definitions: which log lines carry a job's metrics, the same for the cloud and locally.

SageMaker finds a training job's metrics by matching `MetricDefinitions` (a name and a regex
whose first group is the value) against the job's log lines; `easy_sm local train` and
`easy_sm local tune` match the very same definitions against the container's log, so a metric
the cloud would not find is found missing locally too.

The documented line format is `metric NAME=VALUE`, e.g. `metric validation:accuracy=0.9667`
(the example app prints it). `--metric NAME` uses that format; `--metric NAME=REGEX` any
other. Without `--metric`, the definitions of DEFAULT_NAMES in that format are used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from easy_sm.errors import UsageError

# A number as training code prints it: 0.9667, -1, 1e-05, .5
NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
DEFAULT_NAMES = ("train:loss", "train:accuracy", "validation:loss", "validation:accuracy")
LINE_FORMAT = "metric NAME=VALUE"
MAX_DEFINITIONS = 40  # SageMaker's limit per job
MAX_NAME = 255
MAX_REGEX = 500
_ANY_METRIC_LINE = re.compile(r"metric (\S+?)=(" + NUMBER + ")")


def default_regex(name: str) -> str:
    """The regex of `name` in the documented format: `metric NAME=VALUE`."""
    return f"metric {re.escape(name)}=({NUMBER})"


@dataclass(frozen=True)
class Metric:
    """One metric definition: SageMaker's {Name, Regex}. `asked` tells whether the user asked
    for it (a flag or the tuning objective) rather than it being one of the defaults."""

    name: str
    regex: str
    asked: bool = True

    def as_definition(self) -> dict[str, str]:
        return {"Name": self.name, "Regex": self.regex}


def _check(name: str, regex: str, item: str) -> None:
    if not name or len(name) > MAX_NAME or name != name.strip():
        raise UsageError(
            f"--metric {item!r}: the name must be 1-{MAX_NAME} characters, no outer spaces",
            "e.g. --metric validation:accuracy",
        )
    if len(regex) > MAX_REGEX:
        raise UsageError(f"--metric {name}: regex longer than {MAX_REGEX} characters")
    try:
        groups = re.compile(regex).groups
    except re.error as exc:
        raise UsageError(
            f"--metric {name}: invalid regex ({exc})", "e.g. --metric 'loss=loss: ([0-9.]+)'"
        ) from None
    if groups < 1:
        raise UsageError(
            f"--metric {name}: the regex has no (group) for the value",
            f"put the number in parentheses, e.g. --metric '{name}=score ([0-9.]+)'",
        )


def parse(items: list[str] | None) -> list[Metric]:
    """`--metric NAME` / `--metric NAME=REGEX` items (repeatable) as metric definitions; the
    defaults when none is given. The first `=` splits name and regex (names have none)."""
    if not items:
        return [Metric(name, default_regex(name), asked=False) for name in DEFAULT_NAMES]
    metrics: dict[str, Metric] = {}
    for item in items:
        name, sep, regex = item.partition("=")
        name = name.strip()
        regex = regex if sep else default_regex(name)
        _check(name, regex, item)
        metrics[name] = Metric(name, regex)
    if len(metrics) > MAX_DEFINITIONS:
        raise UsageError(f"{len(metrics)} metrics given", f"SageMaker takes {MAX_DEFINITIONS}")
    return list(metrics.values())


def with_objective(metrics: list[Metric], objective: str) -> list[Metric]:
    """`metrics`, making sure the tuning objective is one of them (defined in the documented
    format unless the user gave it a regex)."""
    found = [m for m in metrics if m.name == objective]
    if found:
        return [Metric(m.name, m.regex, asked=True) if m.name == objective else m for m in metrics]
    _check(objective, default_regex(objective), objective)
    return [*metrics, Metric(objective, default_regex(objective))]


def definitions(metrics: Iterable[Metric]) -> list[dict[str, str]]:
    """SageMaker's MetricDefinitions for `metrics`."""
    return [m.as_definition() for m in metrics]


@dataclass
class MetricScanner:
    """Matches log output against metric definitions, as SageMaker does with the job's log: the
    last value of each metric is its final value. Feed it raw output chunks of each stream."""

    metrics: list[Metric]
    values: dict[str, float] = field(default_factory=dict)
    unmatched: dict[str, float] = field(default_factory=dict)  # `metric X=V` lines nobody takes
    _partial: dict[int, bytes] = field(default_factory=dict)
    _compiled: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._compiled = [(m.name, re.compile(m.regex)) for m in self.metrics]

    def feed(self, chunk: bytes, stream: int = 1) -> None:
        data = self._partial.pop(stream, b"") + chunk
        *lines, rest = data.split(b"\n")
        if rest:
            self._partial[stream] = rest
        for line in lines:
            self.scan_line(line.decode("utf-8", "replace").rstrip("\r"))

    def finish(self) -> dict[str, float]:
        """Scan what is left of unterminated lines; return the final values."""
        for stream in list(self._partial):
            self.scan_line(self._partial.pop(stream).decode("utf-8", "replace"))
        return self.values

    def scan_line(self, line: str) -> None:
        taken = set()
        for name, pattern in self._compiled:
            match = pattern.search(line)
            if match is None:
                continue
            value = _number(match.group(1))
            if value is not None:
                self.values[name] = value
                taken.add(name)
        loose = _ANY_METRIC_LINE.search(line)
        if loose and loose.group(1) not in taken and loose.group(1) not in self.values:
            value = _number(loose.group(2))
            if value is not None:
                self.unmatched[loose.group(1)] = value

    def report(self) -> Iterator[str]:
        """Each final value, for stderr: `validation:accuracy = 0.9667`."""
        for metric in self.metrics:
            if metric.name in self.values:
                yield f"{metric.name} = {self.values[metric.name]:g}"

    def warnings(self) -> Iterator[str]:
        """Each metric the user asked for that no log line matched, and each `metric X=V` line
        that no definition takes (SageMaker would not report either)."""
        for metric in self.metrics:
            if metric.asked and metric.name not in self.values:
                yield (
                    f"metric {metric.name}: no log line matched {metric.regex!r}; "
                    "SageMaker would not find it either"
                )
        for name in self.unmatched:
            if name not in self.values:
                yield (
                    f"the log prints metric {name} but no --metric defines it; "
                    f"add --metric {name} to see it in SageMaker"
                )


def tee(
    sink: Callable[[bytes], None], scanner: MetricScanner, stream: int
) -> Callable[[bytes], None]:
    """A container output sink that also feeds `scanner` (stream 1 = stdout, 2 = stderr)."""

    def write(chunk: bytes) -> None:
        sink(chunk)
        scanner.feed(chunk, stream)

    return write


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
