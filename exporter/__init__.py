"""aws-iam-credential-exporter: the IAM credential report as Prometheus metrics."""

__version__ = "0.1.0"
