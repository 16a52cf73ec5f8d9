"""`SageMakerClient`: the one object the cloud commands talk to.

Each method is one user-level operation (upload data, train and wait, deploy, ...) built from
the service functions of this package. Clients are made lazily from one boto3 session and can
be handed in ready-made (a test passes clients wrapped in a botocore Stubber)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from easy_sm import console
from easy_sm.errors import UsageError
from easy_sm.sagemaker import (
    async_inference,
    autoscaling,
    endpoints,
    jobs,
    preflight,
    processing,
    s3,
    training,
    tuning,
)
from easy_sm.sagemaker.logs import LogTailer
from easy_sm.sagemaker.names import sanitize, validate_name
from easy_sm.sagemaker.session import client, image_uri, make_session

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient as SageMakerApi
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

    from easy_sm.docker.code_archive import CodeArchive


@dataclass
class SageMakerClient:
    """An app's view of SageMaker: its session, image and (when needed) execution role."""

    session: boto3.Session
    image_name: str = "easy-sm"
    docker_tag: str = "latest"
    role_arn: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    app_name: str | None = None  # tagged `easy_sm:app` on everything created

    @classmethod
    def for_app(
        cls,
        aws_profile: str,
        aws_region: str,
        *,
        image_name: str,
        docker_tag: str,
        role_arn: str | None = None,
        app_name: str | None = None,
    ) -> SageMakerClient:
        return cls(
            make_session(aws_profile, aws_region),
            image_name,
            docker_tag,
            role_arn,
            app_name=app_name,
        )

    # clients -------------------------------------------------------------------------------
    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(self.session, service)
        return self._clients[service]

    @property
    def sm(self) -> SageMakerApi:
        return self._client("sagemaker")  # type: ignore[no-any-return]

    @property
    def s3(self) -> S3Client:
        return self._client("s3")  # type: ignore[no-any-return]

    @property
    def logs(self) -> CloudWatchLogsClient:
        return self._client("logs")  # type: ignore[no-any-return]

    @property
    def runtime(self) -> SageMakerRuntimeClient:
        return self._client("sagemaker-runtime")  # type: ignore[no-any-return]

    @property
    def autoscaling(self) -> Any:
        return self._client("application-autoscaling")

    @property
    def ecr(self) -> ECRClient:
        return self._client("ecr")  # type: ignore[no-any-return]

    def tags(self, user_tags: dict[str, str] | None = None) -> dict[str, str]:
        """`easy_sm:app=<app>` (when the app is known) plus the user's --tag items."""
        own = {endpoints.APP_TAG: self.app_name} if self.app_name else {}
        return {**own, **(user_tags or {})}

    @property
    def cloudwatch(self) -> Any:
        return self._client("cloudwatch")

    @property
    def region(self) -> str:
        return str(self.session.region_name or "")

    @property
    def image_uri(self) -> str:
        """The app image's URI in the registry SageMaker pulls from."""
        return image_uri(self.session, self.image_name, self.docker_tag)

    @property
    def role(self) -> str:
        if not self.role_arn:
            raise UsageError(
                "no IAM role given",
                "pass -r/--iam-role-arn arn:aws:iam::<account>:role/<name> or set SAGEMAKER_ROLE",
            )
        return self.role_arn

    @property
    def name_prefix(self) -> str:
        """A name fragment for models and default job names, from the image name."""
        return sanitize(self.image_name.rsplit("/", 1)[-1])[:30]

    # data ----------------------------------------------------------------------------------
    def upload_data(self, input_dir: Path, target: str) -> str:
        """Upload a folder tree; return the S3 prefix it now lives under."""
        return s3.upload_folder(self.s3, input_dir, target).uri

    def download_model(self, uri: str, target: Path) -> Path:
        """Download a model archive (s3://…/model.tar.gz) to the file `target`."""
        from easy_sm.sagemaker.artifacts import download_object

        return download_object(self.s3, uri, target)

    # training ------------------------------------------------------------------------------
    def train(
        self,
        *,
        wait: bool = True,
        stream_logs: bool = True,
        code: CodeArchive | None = None,
        check_image: Callable[[], None] | None = None,
        skip_checks: bool = True,
        **spec: Any,
    ) -> str:
        """Start a training job (and wait for it); return its model artifact S3 path. With
        `code` (--code), the archive goes to the output bucket and into the `code` channel;
        without, `check_image` runs once the request is valid (the stale-image warning).
        Unless `skip_checks`, the preflight runs once the request is valid."""
        spec["tags"] = self.tags(spec.get("tags"))
        training_spec = training.TrainingSpec(image_uri="", role_arn=self.role, **spec)
        self._ready_to_start(
            training_spec,
            lambda: training.training_job_request(training_spec, "validation-only"),
            code=code,
            check_image=check_image,
            skip_checks=skip_checks,
        )
        name = training.start_training_job(self.sm, training_spec)
        console.info(f"started training job {name}")
        if wait:
            self._wait(
                jobs.TRAINING,
                name,
                stream_logs,
                stop_hint=f"stop it with: easy_sm stop-training-job -j {name}",
            )
            return training.model_artifacts(self.sm, name)
        console.info(f"not waiting; follow it with: easy_sm logs -j {name} --follow")
        return training.artifacts_path(training_spec.output_s3, name)

    def _ready_to_start(
        self,
        training_spec: training.TrainingSpec,
        validate: Callable[[], object],
        *,
        code: CodeArchive | None,
        check_image: Callable[[], None] | None,
        skip_checks: bool,
    ) -> None:
        """What `train` and `tune` do before their create call, in this order: the code
        archive's URI, `validate` (every argument, before any AWS call: the image URI asks STS
        for the account), the image URI, the preflight (unless `skip_checks`), then the code
        upload (--code) or the stale-image warning (`check_image`)."""
        if code is not None:
            training_spec.code_s3 = self._code_uri(code, training_spec.output_s3, "-o")
        validate()
        training_spec.image_uri = self.image_uri
        if not skip_checks:
            channels = {f"--channel {k}": v for k, v in training_spec.channels.items()}
            self.preflight(
                "training",
                training_spec.instance_type,
                prefixes={"-i/--input-s3-dir": training_spec.input_s3, **channels},
            )
        if code is not None:
            self._upload_code(code, training_spec.code_s3 or "")
        elif check_image is not None:
            check_image()

    def _wait(
        self, kind: jobs.JobKind, name: str, stream_logs: bool, *, stop_hint: str
    ) -> dict[str, Any]:
        """Wait for a job; then one cost line on stderr, or, when it did not complete, its
        summary and last log lines before the error."""
        return jobs.wait_for_job(
            self.sm,
            self.logs if stream_logs else None,
            kind,
            name,
            stop_hint=stop_hint,
            on_end=lambda described: self._report_end(kind, described),
        )

    def _report_end(self, kind: jobs.JobKind, described: dict[str, Any]) -> None:
        from easy_sm.sagemaker import describe, pricing

        if described.get(kind.status_key) == "Completed":
            console.info(pricing.cost_line(pricing.job_cost(kind.name, described, self.region)))
            return
        for line in describe.failure_report(self.sm, self.logs, kind, described, self.region):
            console.info(line)

    # describe ------------------------------------------------------------------------------
    def describe_job(self, name: str) -> dict[str, Any]:
        """The summary of the training, processing, transform or tuning job `name`."""
        from easy_sm.sagemaker import describe

        validate_name(name, "-j/--job-name")

        return describe.describe_job_by_name(self.sm, self.logs, name, self.region)

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        from easy_sm.sagemaker import describe

        validate_name(name, "-n/--endpoint-name")

        return describe.endpoint_summary(self.sm, self.autoscaling, self.logs, name, self.region)

    def pushed_digest(self) -> str | None:
        """The digest of the app's image in ECR (None when unknown)."""
        from easy_sm.sagemaker.ecr import pushed_digest

        return pushed_digest(self.session, self.image_name, self.docker_tag)

    def _code_uri(self, code: CodeArchive, bucket_of: str, option: str) -> str:
        from easy_sm.sagemaker.code import code_uri

        return code_uri(bucket_of, option, self.image_name, code.sha256)

    def _upload_code(self, code: CodeArchive, uri: str) -> None:
        from easy_sm.sagemaker.code import upload_code

        upload_code(self.s3, code, uri)

    def list_training_jobs(self, max_results: int) -> list[dict[str, Any]]:
        return training.list_training_jobs(self.sm, max_results)

    def get_model_artifacts(self, job_name: str) -> str:
        validate_name(job_name, "-j/--job-name")
        return training.model_artifacts(self.sm, job_name)

    def model_summary(self, job_name: str) -> dict[str, Any]:
        """A training job's model path, status and final metrics (FinalMetricDataList)."""
        described = training.describe_training_job(self.sm, job_name)
        return {
            "TrainingJobName": job_name,
            "TrainingJobStatus": described.get("TrainingJobStatus"),
            "S3ModelArtifacts": (described.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
            "FinalMetricDataList": described.get("FinalMetricDataList", []),
            "HyperParameters": described.get("HyperParameters", {}),
        }

    def stop_training_job(self, job_name: str) -> str:
        validate_name(job_name, "-j/--training-job-name")
        training.stop_training_job(self.sm, job_name)
        return job_name

    # tuning --------------------------------------------------------------------------------
    def tune(
        self,
        *,
        wait: bool = True,
        code: CodeArchive | None = None,
        check_image: Callable[[], None] | None = None,
        skip_checks: bool = True,
        **spec: Any,
    ) -> str:
        """Start a hyperparameter tuning job (and wait for it, showing its training jobs);
        return the best training job's name (without waiting: the tuning job's name). Its
        training jobs are prepared as `train` prepares one (tags, --code, preflight)."""
        training_fields = {k: spec.pop(k) for k in list(spec) if k in _TRAINING_FIELDS}
        training_fields["tags"] = self.tags(training_fields.get("tags"))
        tuning_spec = tuning.TuningSpec(
            training=training.TrainingSpec(image_uri="", role_arn=self.role, **training_fields),
            **spec,
        )
        self._ready_to_start(
            tuning_spec.training,
            lambda: tuning.tuning_job_request(tuning_spec, "validation-only"),
            code=code,
            check_image=check_image,
            skip_checks=skip_checks,
        )
        name = tuning.start_tuning_job(self.sm, tuning_spec)
        console.info(f"started tuning job {name}")
        if not wait:
            console.info("not waiting; see it with: easy_sm list-tuning-jobs")
            return name
        best = tuning.wait_for_tuning_job(self.sm, name, tuning_spec.objective.metric)
        console.info(f"best training job: {best}")
        return best

    def list_tuning_jobs(self, max_results: int) -> list[dict[str, Any]]:
        return tuning.list_tuning_jobs(self.sm, max_results)

    # processing ----------------------------------------------------------------------------
    def process(
        self,
        *,
        wait: bool = True,
        stream_logs: bool = True,
        code: CodeArchive | None = None,
        check_image: Callable[[], None] | None = None,
        skip_checks: bool = True,
        **spec: Any,
    ) -> str:
        """Start a processing job (and wait for it); return its name. With `code` (--code), the
        archive goes to the output (else input) bucket and into the `code` input. Unless
        `skip_checks`, the preflight runs once the request is valid."""
        spec["tags"] = self.tags(spec.get("tags"))
        processing_spec = processing.ProcessingSpec(image_uri="", role_arn=self.role, **spec)
        if code is not None:
            where = processing_spec.output_s3 or processing_spec.input_s3
            if not where:
                raise UsageError(
                    "--code needs a bucket to upload the code to",
                    "give -o s3://bucket/prefix (or -i): the code goes to that bucket",
                )
            processing_spec.code_s3 = self._code_uri(code, where, "-o/-i")
        processing.processing_job_request(processing_spec, "validation-only")
        processing_spec.image_uri = self.image_uri  # (asks STS) once the arguments are valid
        if not skip_checks:
            self.preflight(
                "processing",
                processing_spec.instance_type,
                prefixes={"-i/--s3-input-location": processing_spec.input_s3},
            )
        if code is not None:
            self._upload_code(code, processing_spec.code_s3 or "")
        elif check_image is not None:
            check_image()
        name = processing.start_processing_job(self.sm, processing_spec)
        console.info(f"started processing job {name}")
        if wait:
            self._wait(
                jobs.PROCESSING,
                name,
                stream_logs,
                stop_hint=f"stop it with: aws sagemaker stop-processing-job "
                f"--processing-job-name {name}",
            )
        else:
            console.info(f"not waiting; follow it with: easy_sm logs -j {name} --follow")
        return name

    # endpoints -----------------------------------------------------------------------------
    def deploy(
        self,
        model_data: str,
        endpoint_name: str,
        spec: endpoints.EndpointSpec | dict[str, Any],
        *,
        timeout: float = endpoints.DEFAULT_ENDPOINT_TIMEOUT,
    ) -> str:
        """Create or update the endpoint (`spec`, or just a variant dict); wait; its name."""
        endpoints.check_deploy_options(endpoint_name=endpoint_name, model_data=model_data)
        if isinstance(spec, dict):
            spec = endpoints.EndpointSpec(variant=spec)
        spec.tags = self.tags(spec.tags)
        return endpoints.deploy_endpoint(
            self.sm,
            endpoint_name=endpoint_name,
            spec=spec,
            image_uri=self.image_uri,
            model_data=model_data,
            role_arn=self.role,
            model_prefix=self.name_prefix,
            aas=self.autoscaling,
            cloudwatch=self.cloudwatch,
            timeout=timeout,
        )

    def rollback(
        self, endpoint_name: str, *, timeout: float = endpoints.DEFAULT_ENDPOINT_TIMEOUT
    ) -> str:
        """Return the endpoint to the config it ran before the last easy_sm deploy."""
        config = endpoints.rollback_endpoint(
            self.sm,
            endpoint_name,
            aas=self.autoscaling,
            cloudwatch=self.cloudwatch,
            timeout=timeout,
        )
        console.info(f"endpoint {endpoint_name} serves config {config} again")
        return endpoint_name

    def list_endpoints(
        self, *, app_only: bool = False, details: bool = False
    ) -> list[dict[str, Any]]:
        """Every endpoint, newest first; with `app_only` only this app's (by its tag). An
        autoscaled endpoint carries `Autoscaling: {MinCapacity, MaxCapacity}`; with `details`
        each also carries its `DataCaptureConfig` (one DescribeEndpoint each, concurrently)."""
        found = endpoints.list_endpoints(self.sm)
        if details and found:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=8) as pool:
                described = list(
                    pool.map(
                        lambda e: endpoints.describe_endpoint(self.sm, str(e["EndpointName"])),
                        found,
                    )
                )
            for endpoint, full in zip(found, described, strict=True):
                if full and full.get("DataCaptureConfig"):
                    endpoint["DataCaptureConfig"] = full["DataCaptureConfig"]
        if app_only:
            found = [
                e
                for e in found
                if endpoints.list_tags(self.sm, str(e["EndpointArn"])).get(endpoints.APP_TAG)
                == self.app_name
            ]
        if found:
            targets = autoscaling.all_scalable_targets(self.autoscaling)
            for endpoint in found:
                target = targets.get(str(endpoint.get("EndpointName")))
                if target is not None:
                    endpoint["Autoscaling"] = {
                        "MinCapacity": target["MinCapacity"],
                        "MaxCapacity": target["MaxCapacity"],
                    }
        return found

    def endpoint_costs(self, found: list[dict[str, Any]], idle_hours: int) -> list[dict[str, Any]]:
        from easy_sm.sagemaker import pricing

        return pricing.endpoint_costs(self.sm, self.cloudwatch, found, self.region, idle_hours)

    def delete_endpoint(
        self, name: str, *, delete_config: bool = False, delete_model: bool = False
    ) -> str:
        validate_name(name, "-n/--endpoint-name")
        deleted = endpoints.delete_endpoint(
            self.sm,
            name,
            delete_config=delete_config,
            delete_model=delete_model,
            aas=self.autoscaling,
            cloudwatch=self.cloudwatch,
        )
        console.info(f"deleted endpoint {name}")
        for item in deleted:
            console.info(f"deleted {item}")
        return name

    def invoke(
        self, name: str, body: bytes, *, content_type: str, accept: str | None = None
    ) -> bytes:
        validate_name(name, "-n/--endpoint-name")
        return endpoints.invoke_endpoint(
            self.runtime, name, body, content_type=content_type, accept=accept
        )

    def invoke_async(
        self,
        name: str,
        *,
        body: bytes | None = None,
        input_s3: str | None = None,
        content_type: str,
        accept: str | None = None,
        wait: bool = False,
        timeout: float = 900,
    ) -> bytes:
        """Queue a request on an async endpoint; return its output location (or, with `wait`,
        the result body)."""
        validate_name(name, "-n/--endpoint-name")
        if input_s3 is None:
            output_path = async_inference.async_output_path(self.sm, name)
            input_s3 = async_inference.upload_body(self.s3, output_path, name, body or b"")
        invocation = async_inference.invoke_async(
            self.runtime, name, input_s3, content_type=content_type, accept=accept
        )
        if not wait:
            return invocation.output.encode()
        return async_inference.wait_for_result(self.s3, invocation, timeout=timeout)

    # preflight -----------------------------------------------------------------------------
    def preflight(
        self,
        api: str,
        instance_type: str | None,
        *,
        prefixes: Mapping[str, str | None] | None = None,
        objects: Mapping[str, str | None] | None = None,
    ) -> None:
        """Fail now, not after a job starts: the instance type for `api`, the S3 inputs
        (`{option: uri}`: prefixes must hold an object, objects must exist), and the image
        in ECR."""
        if instance_type is not None:
            preflight.check_instance_type(self.sm.meta.service_model, api, instance_type)
        for option, uri in (prefixes or {}).items():
            if uri:
                preflight.check_s3_prefix(self.s3, uri, option)
        for option, uri in (objects or {}).items():
            if uri:
                preflight.check_s3_object(self.s3, uri, option)
        preflight.check_image(self.ecr, self.image_name, self.docker_tag, self.image_uri)

    # batch transform -----------------------------------------------------------------------
    def batch_transform(
        self,
        model_data: str,
        *,
        wait: bool = False,
        stream_logs: bool = True,
        skip_checks: bool = True,
        **options: Any,
    ) -> str:
        """Start a batch transform job (and wait for it, with --wait); return its name."""
        tags = self.tags(options.pop("tags", None))
        # every argument, before the first AWS call (the model would be made for nothing)
        endpoints.check_transform_options(model_data=model_data, **options)
        if not skip_checks:
            self.preflight(
                "transform",
                options["instance_type"],
                prefixes={"-i/--s3-input-location": options["input_s3"]},
                objects={"-m/--s3-model-location": model_data},
            )
        model = endpoints.ensure_model(
            self.sm, self.name_prefix, self.image_uri, model_data, self.role, tags
        )
        name = endpoints.start_transform_job(
            self.sm, model=model, base_name=f"{self.name_prefix}-transform", tags=tags, **options
        )
        console.info(f"started batch transform job {name}")
        if wait:
            self._wait(
                jobs.TRANSFORM,
                name,
                stream_logs,
                stop_hint=f"stop it with: aws sagemaker stop-transform-job "
                f"--transform-job-name {name}",
            )
        return name

    # logs ----------------------------------------------------------------------------------
    def job_logs(self, job_name: str, *, follow: bool, sink: Callable[[str], None]) -> str:
        """Print a job's CloudWatch log lines through `sink` (and keep printing until it ends,
        with `follow`); return the job's final (or current) status."""
        validate_name(job_name, "-j/--job-name")
        kind, described = jobs.find_job(self.sm, job_name)
        if follow and described.get(kind.status_key) not in jobs.TERMINAL:
            described = jobs.wait_for_job(self.sm, self.logs, kind, job_name, sink=sink)
        elif not LogTailer(self.logs, kind.name, job_name, sink).poll():
            console.info(
                f"no log lines for {kind.name} job {job_name} "
                f"({described.get(kind.status_key)}) yet"
            )
        return str(described.get(kind.status_key))


_TRAINING_FIELDS = frozenset(training.TrainingSpec.__dataclass_fields__) - {"image_uri", "role_arn"}


def iter_lines(items: list[dict[str, Any]], *keys: str) -> Iterator[str]:
    """Plain `a  b  c` lines of the given keys (the original tool's list format)."""
    for item in items:
        yield "  ".join(str(item.get(k, "")) for k in keys)
