"""Everything that talks to AWS. The only package that imports boto3 or botocore.

The rest of the exporter sees ``exporter.sources.base.ReportSource`` (anything with
``fetch()``) and ``SourceError`` (a failure with a short ``reason``).
"""

from exporter.sources.aws.clients import ClientSettings, make_client
from exporter.sources.aws.errors import classify
from exporter.sources.aws.report_fetch import IamReportFetcher

__all__ = ["ClientSettings", "IamReportFetcher", "classify", "make_client"]
