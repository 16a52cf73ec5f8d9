"""A table of bad inputs run through the CLI. Per case: the documented exit code, exactly ONE
`error: <what> — <fix>` line on stderr, no traceback, nothing on stdout, and nothing left
behind (no file in the project or HOME, no AWS resource).

To add a case, append a `Bad(...)` to CASES: the id, the argv, the exit code, a fragment the
error line must contain, and optionally `files` (written into the working dir first) or
`aws=True` (the case runs against a fresh moto server and checks no AWS resource appeared), or
`offline=True` (AWS cannot be reached: a case that calls AWS before it validates gets exit 4).
Cases that need the Docker engine live in tests/integration/test_bad_inputs_docker.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app

ROLE = "arn:aws:iam::123456789012:role/sm"
CONFIG = '{"image_name": "app", "easy_sm_module_dir": "", "python_version": "3.11"}\n'
PROJECT = {"app.json": CONFIG.encode()}
TRANSFORM = ["batch-transform", "-a", "app", "-m", "s3://bucket/model.tar.gz", "-e", "ml.m5.large"]
LOCAL_TRANSFORM = ["local", "batch-transform", "-i", "in", "-o", "out"]
INPUT = {"in/": b"", "in/a.csv": b"5.1,3.5,1.4,0.2\n"}
TRAIN = ["train", "-a", "app", "-n", "j", "-e", "ml.m5.large", "-r", ROLE]
TUNE = ["tune", "-a", "app", "-n", "j", "-e", "ml.m5.large", "-r", ROLE, "-i", "s3://bucket/in"]
PROCESS = ["process", "-a", "app", "-f", "p.py", "-e", "ml.m5.large", "-n", "j", "-r", ROLE]
DEPLOY = ["deploy", "-a", "app", "-m", "s3://bucket/model.tar.gz", "-e", "ml.m5.large", "-r", ROLE]


@dataclass(frozen=True)
class Bad:
    id: str
    args: list[str]
    code: int
    says: str
    files: dict[str, bytes] = field(default_factory=dict)
    aws: bool = False
    offline: bool = False


CASES = [
    # -- click's own usage errors: one line, exit 2 (item 12)
    Bad("option-value-out-of-range", ["deploy", "-c", "0"], 2, "'-c'"),
    Bad("unknown-command", ["trian"], 2, "no such command 'trian'"),
    Bad("unknown-command-suggests", ["local", "traim"], 2, "did you mean 'train'"),
    Bad("unknown-option", ["local", "train", "-z", "0"], 2, "no such option: -z"),
    Bad("unknown-option-suggests", ["build", "--platfrm", "x"], 2, "did you mean --platform"),
    Bad("missing-option", ["local", "process"], 2, "missing option '--file'"),
    # -- values ending in a newline (item 9)
    Bad("app-name-newline", ["init", "--app-name", "x\n", "--yes"], 2, "invalid app name"),
    Bad("docker-tag-newline", ["--docker-tag", "v1\n", "build"], 2, "--docker-tag"),
    Bad("endpoint-name-newline", [*DEPLOY, "-n", "ep\n"], 2, "-n/--endpoint-name", PROJECT),
    Bad(
        "role-newline",
        [
            "train",
            "-a",
            "app",
            "-n",
            "j",
            "-e",
            "m",
            "-r",
            f"{ROLE}\n",
            "-i",
            "s3://b/i",
            "-o",
            "s3://b/o",
        ],
        2,
        "not an IAM role ARN",
        PROJECT,
    ),
    Bad("env-key-newline", ["local", "run", "--env", "A\n=1", "--", "true"], 2, "variable name"),
    Bad(
        "python-version-newline",
        ["build"],
        3,
        "python_version",
        {"app.json": CONFIG.replace('"3.11"', '"3.11\\n"').encode()},
    ),
    # -- documented codes instead of exit 1 / the wrong class (item 10)
    Bad("app-name-300-chars", ["init", "--app-name", "a" * 300, "--yes"], 2, "300 characters"),
    Bad("app-name-leading-dash", ["build", "-a", "-rel"], 2, "invalid app name '-rel'"),
    Bad("registry-with-space", ["push", "--registry", "a b"], 2, "not a registry address"),
    Bad("config-not-utf8", ["build", "-a", "app"], 3, "not UTF-8", {"app.json": b"\xff\xfe{"}),
    # -- unreadable config under auto-detection (item 11)
    Bad("config-unreadable-autodetect", ["build"], 3, "cannot read app.json", {"app.json/": b""}),
    # -- every argument validated before the first AWS call (item 6)
    Bad(
        "transform-bad-input-uri",
        [*TRANSFORM, "-r", ROLE, "-i", "not-an-uri", "-o", "s3://bucket/out"],
        2,
        "-i/--s3-input-location",
        PROJECT,
        aws=True,
    ),
    Bad(
        "transform-bad-output-uri",
        [*TRANSFORM, "-r", ROLE, "-i", "s3://bucket/in", "-o", "s3://"],
        2,
        "-o/--s3-output-location",
        PROJECT,
        aws=True,
    ),
    Bad(
        "transform-bad-job-name",
        [*TRANSFORM, "-r", ROLE, "-i", "s3://b/in", "-o", "s3://b/out", "-n", "job\n"],
        2,
        "-n/--job-name",
        PROJECT,
        aws=True,
    ),
    Bad("deploy-bad-endpoint-name", [*DEPLOY, "-n", "bad_name"], 2, "endpoint", PROJECT, aws=True),
    # -- local batch-transform / --model: refused before Docker, AWS or any file is touched
    Bad("local-transform-payload-over-100", [*LOCAL_TRANSFORM, "--max-payload", "101"], 2, "101"),
    Bad(
        "local-transform-concurrency-times-payload",
        [*LOCAL_TRANSFORM, "--max-payload", "20", "--max-concurrent", "6"],
        2,
        "over SageMaker's 100 MB",
        INPUT,
    ),
    Bad("local-transform-missing-input", LOCAL_TRANSFORM, 2, "-i/--input in does not exist"),
    Bad(
        "local-transform-output-inside-input",
        [*LOCAL_TRANSFORM[:-1], "in/out"],
        2,
        "is inside -i/--input",
        INPUT,
    ),
    Bad(
        "local-transform-missing-model",
        [*LOCAL_TRANSFORM, "--model", "nope.tar.gz"],
        2,
        "--model nope.tar.gz does not exist",
        INPUT,
    ),
    Bad("local-deploy-model-s3-prefix", ["local", "deploy", "--model", "s3://b/"], 2, "S3 object"),
    Bad(
        "train-bad-output-uri-offline",
        [*TRAIN, "-i", "s3://bucket/in", "-o", "not-an-uri"],
        2,
        "not-an-uri",
        PROJECT,
        offline=True,
    ),
    Bad(
        "process-bad-input-uri-offline",
        [*PROCESS, "-i", "not-an-uri"],
        2,
        "not-an-uri",
        {**PROJECT, "easy_sm_base/processing/p.py": b"print(1)\n"},
        offline=True,
    ),
    Bad(
        "delete-endpoint-bad-name-offline",
        ["delete-endpoint", "-a", "app", "-n", "bad name"],
        2,
        "-n/--endpoint-name",
        PROJECT,
        offline=True,
    ),
    Bad(
        "logs-bad-job-name-offline",
        ["logs", "-a", "app", "-j", "a b"],
        2,
        "-j",
        PROJECT,
        offline=True,
    ),
    Bad(
        "tune-bad-output-uri-offline",
        [*TUNE, "-o", "not-an-uri", "--objective", "v:acc", "--range", "C=continuous:0:1"],
        2,
        "not-an-uri",
        PROJECT,
        offline=True,
    ),
    Bad(
        "describe-bad-job-offline",
        ["describe", "-a", "app", "-j", "a b"],
        2,
        "-j",
        PROJECT,
        offline=True,
    ),
    Bad(
        "describe-bad-endpoint-offline",
        ["describe", "-a", "app", "-n", "a b"],
        2,
        "-n/--endpoint-name",
        PROJECT,
        offline=True,
    ),
    Bad(
        "invoke-bad-endpoint-offline",
        ["invoke", "-a", "app", "-n", "a b", "-f", "app.json", "--content-type", "text/csv"],
        2,
        "-n/--endpoint-name",
        PROJECT,
        offline=True,
    ),
    Bad(
        "get-model-artifacts-bad-job-offline",
        ["get-model-artifacts", "-a", "app", "-j", "a b"],
        2,
        "-j/--job-name",
        PROJECT,
        offline=True,
    ),
    Bad(
        "stop-training-job-bad-name-offline",
        ["stop-training-job", "-a", "app", "-j", "a b"],
        2,
        "-j/--training-job-name",
        PROJECT,
        offline=True,
    ),
]


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        if name.endswith("/"):
            (root / name.rstrip("/")).mkdir()
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(content)


def _tree(*roots: Path) -> set[str]:
    return {str(path) for root in roots for path in root.rglob("*")}


def _aws_state() -> dict[str, Any]:
    import boto3

    sm = boto3.client("sagemaker")
    s3 = boto3.client("s3")
    return {
        "models": sm.list_models()["Models"],
        "endpoint_configs": sm.list_endpoint_configs()["EndpointConfigs"],
        "endpoints": sm.list_endpoints()["Endpoints"],
        "training": sm.list_training_jobs()["TrainingJobSummaries"],
        "transform": sm.list_transform_jobs()["TransformJobSummaries"],
        "processing": sm.list_processing_jobs()["ProcessingJobSummaries"],
        "buckets": s3.list_buckets()["Buckets"],
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gives_one_error_line_its_exit_code_and_leaves_nothing(
    case: Bad,
    isolated: Path,
    runner: CliRunner,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if case.aws:
        request.getfixturevalue("moto")
    if case.offline:
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    _write(isolated, case.files)
    home = Path.home()
    before = _tree(isolated, home)
    aws_before = _aws_state() if case.aws else None

    result = runner.invoke(app, case.args)

    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == case.code, result.stderr
    assert len(errors) == 1, result.stderr
    assert " — " in errors[0], errors[0]
    assert case.says in errors[0], errors[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert _tree(isolated, home) == before, "files were left behind"
    if case.aws:
        assert _aws_state() == aws_before, "AWS resources were left behind"


def test_upper_case_image_name_from_the_original_tool_loads_lower_cased_with_a_warning(
    isolated: Path, runner: CliRunner
) -> None:
    assert runner.invoke(app, ["init", "--app-name", "demo", "--yes"]).exit_code == 0
    config = isolated / "demo.json"
    config.write_text(config.read_text().replace('"image_name": "demo"', '"image_name": "DeMo"'))

    result = runner.invoke(app, ["update-scripts"])

    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "'DeMo' used as 'demo'" in warnings[0]


def test_test_dir_files_the_user_cannot_delete_are_named_with_the_fix(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easy_sm.docker import local_mode
    from easy_sm.errors import ConfigError

    test_dir = isolated / "test_dir"
    stuck = test_dir / "model" / "root-owned.pkl"
    stuck.parent.mkdir(parents=True)
    stuck.write_text("x")

    def refuse(path: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    # root ignores file permissions, so the refusal a normal user meets is simulated here
    monkeypatch.setattr(Path, "unlink", refuse)
    app_ = local_mode.LocalApp("demo", "demo:latest", test_dir, isolated)
    with pytest.raises(ConfigError) as caught:
        local_mode.prepare_training(app_, {}, "job")
    assert str(stuck) in caught.value.message
    assert "chown" in (caught.value.hint or "")
    assert caught.value.exit_code == 3


def test_no_validator_accepts_a_trailing_newline() -> None:
    """`re.match(r"^...$")` accepts "value\\n" ($ matches before a final newline): every
    validation regex in easy_sm is used with fullmatch and written without `$`."""
    import re

    root = Path(__file__).resolve().parents[2] / "easy_sm"
    offenders = []
    for path in root.rglob("*.py"):
        if "template" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"""re\.compile\(\s*r?["'].*\$["']""", line) or re.search(
                r"_RE\.match\(", line
            ):
                offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert offenders == []
