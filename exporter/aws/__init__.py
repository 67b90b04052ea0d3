"""Everything that talks to AWS. The only package that imports boto3 or botocore.

The rest of the exporter sees ``exporter.sources.ReportSource`` (anything with
``fetch()``) and ``SourceError`` (a failure with a short ``reason``).
"""

from exporter.aws.clients import ClientSettings, make_client
from exporter.aws.errors import classify
from exporter.aws.report_fetch import IamReportFetcher

__all__ = ["ClientSettings", "IamReportFetcher", "classify", "make_client"]
