"""The moto fixtures of test_cloud.py (a project `my-app` whose image is in ECR and whose
inputs are in S3; the requests as sent), shared with the endpoint tests here."""

from tests.integration.test_cloud import preflight_ready, project, sent  # noqa: F401
