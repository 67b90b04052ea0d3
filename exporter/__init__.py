"""aws-iam-credential-exporter: the IAM credential report as Prometheus metrics."""

# The only copy of the version: pyproject.toml reads it (dynamic version), and the
# deploy files that repeat it are checked against it (tests/artefacts/test_version.py).
__version__ = "0.1.0"
