"""What a tuning job searches: hyperparameter ranges, the objective and the strategy.

One description for `easy_sm tune` (SageMaker's CreateHyperParameterTuningJob) and
`easy_sm local tune` (trials on this machine), so the same flags mean the same search:

  --range C=continuous:0.01:10:log      ContinuousParameterRange, Logarithmic scaling
  --range max_iter=integer:100:1000     IntegerParameterRange (scaling: auto, linear, log,
                                         reverse-log)
  --range solver=categorical:lbfgs,saga CategoricalParameterRange
  --ranges ranges.json                  {"C": "continuous:0.01:10:log",
                                         "solver": ["lbfgs", "saga"],
                                         "max_iter": {"type": "integer", "min": 100, "max": 1000}}
                                         (YAML too, when PyYAML is installed)
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from easy_sm.errors import UsageError
from easy_sm.hyperparameters import stringify

KINDS = ("continuous", "integer", "categorical")
SCALINGS = {
    "auto": "Auto",
    "linear": "Linear",
    "log": "Logarithmic",
    "reverse-log": "ReverseLogarithmic",
}
STRATEGIES = ("Bayesian", "Random", "Grid", "Hyperband")
LOCAL_STRATEGIES = ("Random", "Grid")
MAX_RANGES = 30  # SageMaker's limit on the number of tuned hyperparameters
MAX_CATEGORIES = 30  # ... and on the values of one categorical range
RANGE_EXAMPLE = "e.g. --range C=continuous:0.01:10:log or --range solver=categorical:lbfgs,saga"


@dataclass(frozen=True)
class ParameterRange:
    """One tuned hyperparameter: its kind, bounds (continuous, integer) or values
    (categorical), and scaling (SageMaker's ScalingType)."""

    name: str
    kind: str  # continuous | integer | categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()

    def as_api(self) -> dict[str, Any]:
        """This range as an item of SageMaker's ParameterRanges lists."""
        if self.kind == "categorical":
            return {"Name": self.name, "Values": list(self.values)}
        return {
            "Name": self.name,
            "MinValue": self._format(self.low),
            "MaxValue": self._format(self.high),
            "ScalingType": self.scaling,
        }

    def _format(self, value: float) -> str:
        return str(int(value)) if self.kind == "integer" else f"{value:g}"

    def sample(self, rng: random.Random) -> str:
        """A random value, drawn as the scaling says; as SageMaker passes it (a string)."""
        if self.kind == "categorical":
            return rng.choice(self.values)
        low, high = self.low, self.high
        if self.scaling == "Logarithmic":
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        elif self.scaling == "ReverseLogarithmic":
            value = 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
        else:
            value = rng.uniform(low, high)
        if self.kind == "integer":
            return str(min(int(high), max(int(low), round(value))))
        return f"{value:.6g}"


def _scaling(text: str, name: str) -> str:
    scaling = SCALINGS.get(text.strip().lower())
    if scaling is None:
        raise UsageError(f"range {name}: unknown scaling {text!r}", "use " + ", ".join(SCALINGS))
    return scaling


def _number(text: object, name: str, kind: str) -> float:
    try:
        value = float(str(text))
        if kind == "integer" and value != int(value):
            raise ValueError(text)
    except ValueError:
        raise UsageError(
            f"range {name}: {text!r} is not {'an integer' if kind == 'integer' else 'a number'}",
            RANGE_EXAMPLE,
        ) from None
    return value


def make_range(
    name: str,
    kind: str,
    *,
    low: object = None,
    high: object = None,
    scaling: str = "auto",
    values: list[Any] | None = None,
) -> ParameterRange:
    """A validated range (SageMaker's rules: low < high, log scaling needs low > 0,
    reverse-log needs 0 <= low < high < 1, 1-30 categorical values)."""
    if not name:
        raise UsageError("a range has no hyperparameter name", RANGE_EXAMPLE)
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise UsageError(f"range {name}: unknown type {kind!r}", "use " + ", ".join(KINDS))
    if kind == "categorical":
        cleaned = tuple(dict.fromkeys(stringify(v) for v in values or []))
        if not cleaned or len(cleaned) > MAX_CATEGORIES or "" in cleaned:
            raise UsageError(
                f"range {name}: a categorical range takes 1-{MAX_CATEGORIES} non-empty values",
                "e.g. --range solver=categorical:lbfgs,saga",
            )
        return ParameterRange(name, kind, values=cleaned)
    if low is None or high is None:
        raise UsageError(f"range {name}: {kind} needs a minimum and a maximum", RANGE_EXAMPLE)
    lo, hi = _number(low, name, kind), _number(high, name, kind)
    scale = _scaling(scaling, name)
    if lo >= hi:
        raise UsageError(f"range {name}: the minimum {lo:g} is not below the maximum {hi:g}")
    if scale == "Logarithmic" and lo <= 0:
        raise UsageError(
            f"range {name}: log scaling needs a minimum above 0 (got {lo:g})",
            "raise the minimum, or use linear scaling",
        )
    if scale == "ReverseLogarithmic" and (kind != "continuous" or lo < 0 or hi >= 1):
        raise UsageError(
            f"range {name}: reverse-log scaling takes continuous ranges within [0, 1)",
            "use log or linear scaling",
        )
    return ParameterRange(name, kind, lo, hi, scale)


def parse_range(item: str) -> ParameterRange:
    """`NAME=continuous:MIN:MAX[:SCALING]`, `NAME=integer:MIN:MAX[:SCALING]` or
    `NAME=categorical:A,B,...`."""
    name, sep, text = item.partition("=")
    kind, _, rest = text.partition(":")
    if not sep or not name or not rest:
        raise UsageError(f"--range {item!r}: expected NAME=TYPE:...", RANGE_EXAMPLE)
    if kind.strip().lower() == "categorical":
        return make_range(name, kind, values=rest.split(","))
    parts = rest.split(":")
    if len(parts) not in (2, 3):
        raise UsageError(f"--range {item!r}: expected NAME={kind}:MIN:MAX[:SCALING]", RANGE_EXAMPLE)
    return make_range(
        name, kind, low=parts[0], high=parts[1], scaling=parts[2] if len(parts) == 3 else "auto"
    )


def _from_file_entry(name: str, entry: object) -> ParameterRange:
    if isinstance(entry, str):
        return parse_range(f"{name}={entry}")
    if isinstance(entry, list):
        return make_range(name, "categorical", values=entry)
    if isinstance(entry, Mapping):
        return make_range(
            name,
            str(entry.get("type", "")),
            low=entry.get("min"),
            high=entry.get("max"),
            scaling=str(entry.get("scaling", "auto")),
            values=list(entry.get("values") or []),
        )
    raise UsageError(f"--ranges: {name}: expected a string, a list or an object", RANGE_EXAMPLE)


def load_ranges_file(path: Path) -> list[ParameterRange]:
    """A ranges file: a JSON (or, with PyYAML installed, YAML) object of NAME -> range."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--ranges {path}: no such file", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--ranges {path}: cannot read it ({exc})", "check the file") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise UsageError(
                f"--ranges {path}: reading YAML needs PyYAML, which is not installed",
                "pip install pyyaml, or write the ranges as JSON",
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"--ranges {path}: invalid YAML ({exc})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--ranges {path}: invalid JSON at line {exc.lineno}: {exc.msg}", RANGE_EXAMPLE
            ) from None
    if not isinstance(data, Mapping):
        raise UsageError(f"--ranges {path}: expected an object of NAME: range", RANGE_EXAMPLE)
    return [_from_file_entry(str(name), entry) for name, entry in data.items()]


def parse_ranges(items: list[str] | None, file: Path | None = None) -> list[ParameterRange]:
    """The `--ranges` file, then the `--range` items (which win); at least one, at most 30."""
    ranges: dict[str, ParameterRange] = {}
    for found in load_ranges_file(file) if file is not None else []:
        ranges[found.name] = found
    for item in items or []:
        found = parse_range(item)
        ranges[found.name] = found
    if not ranges:
        raise UsageError(
            "no hyperparameter ranges given", "add --range or --ranges; " + RANGE_EXAMPLE
        )
    if len(ranges) > MAX_RANGES:
        raise UsageError(f"{len(ranges)} ranges given", f"SageMaker tunes at most {MAX_RANGES}")
    return list(ranges.values())


def check_static(ranges: list[ParameterRange], static: Mapping[str, str]) -> None:
    """A hyperparameter is either tuned or static, never both."""
    both = sorted({r.name for r in ranges} & set(static))
    if both:
        raise UsageError(
            f"hyperparameter {', '.join(both)} is both tuned (--range) and fixed "
            "(--hyperparameters)",
            "drop one of the two",
        )


def api_ranges(ranges: list[ParameterRange]) -> dict[str, list[dict[str, Any]]]:
    """SageMaker's ParameterRanges."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    keys = {
        "continuous": "ContinuousParameterRanges",
        "integer": "IntegerParameterRanges",
        "categorical": "CategoricalParameterRanges",
    }
    for found in ranges:
        grouped.setdefault(keys[found.kind], []).append(found.as_api())
    return grouped


def check_strategy(strategy: str, ranges: list[ParameterRange], *, local: bool = False) -> str:
    """The strategy's canonical name; Grid takes only categorical ranges (as on SageMaker)."""
    allowed = LOCAL_STRATEGIES if local else STRATEGIES
    canonical = next((s for s in STRATEGIES if s.lower() == strategy.strip().lower()), None)
    if canonical is None:
        raise UsageError(f"--strategy {strategy!r} is not a strategy", "use " + ", ".join(allowed))
    if canonical not in allowed:
        raise UsageError(
            f"--strategy {canonical} runs only on SageMaker (easy_sm tune)",
            "locally use --strategy Random or Grid",
        )
    if canonical == "Grid":
        numeric = [r.name for r in ranges if r.kind != "categorical"]
        if numeric:
            raise UsageError(
                f"--strategy Grid takes only categorical ranges; {', '.join(numeric)} is not",
                f"list the values, e.g. --range {numeric[0]}=categorical:0.1,1,10",
            )
    return canonical


def grid_size(ranges: list[ParameterRange]) -> int:
    return math.prod(len(r.values) for r in ranges)


def trials(
    ranges: list[ParameterRange], strategy: str, max_jobs: int | None, seed: int | None
) -> Iterator[dict[str, str]]:
    """The hyperparameters of each local trial: every combination for Grid (at most
    `max_jobs`), `max_jobs` random draws for Random (reproducible with `seed`)."""
    if strategy == "Grid":
        combos = itertools.product(*(r.values for r in ranges))
        for combo in itertools.islice(combos, max_jobs):
            yield {r.name: value for r, value in zip(ranges, combo, strict=True)}
        return
    rng = random.Random(seed)
    for _ in range(max_jobs or 1):
        yield {r.name: r.sample(rng) for r in ranges}


@dataclass(frozen=True)
class Objective:
    """The metric a tuning job optimises, and in which direction."""

    metric: str
    maximize: bool = True

    @property
    def type(self) -> str:
        return "Maximize" if self.maximize else "Minimize"

    def better(self, value: float, than: float) -> bool:
        return value > than if self.maximize else value < than

    def as_api(self) -> dict[str, str]:
        return {"Type": self.type, "MetricName": self.metric}
