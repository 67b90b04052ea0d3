"""Where the landing page links each check: its section of docs/checks.md and of
docs/runbook.md.

``DOCS_BASE_URL`` is the one place the page's documentation links start from; the
alert rules' ``runbook_url`` point at the same pages. A test checks that every anchor
used here is a heading of those files and that ``RUNBOOK_SECTIONS`` names the alert
the rules raise for each check.
"""

from __future__ import annotations

DOCS_BASE_URL = (
    "https://github.com/aws-iam-credential-exporter/aws-iam-credential-exporter/blob/main/docs/"
)

# The alert whose expression reads the check's own aws_iam_findings series: its runbook
# section says how to fix that check. Other checks have no alert of their own.
RUNBOOK_SECTIONS = {
    "root_mfa_disabled": "AwsIamRootMfaDisabled",
    "root_access_key_active": "AwsIamRootAccessKeyPresent",
    "console_without_mfa": "AwsIamConsoleUsersWithoutMfa",
}
# The runbook's section on finding the users behind any check's findings.
RUNBOOK_GENERAL = "Finding the users involved"


def anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, spaces to dashes,
    punctuation other than ``-`` and ``_`` dropped."""
    kept = "".join(c for c in heading.strip().lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def check_doc_url(check: str, base: str = DOCS_BASE_URL) -> str:
    return f"{base}checks.md#{anchor(check)}"


def runbook_url(check: str, base: str = DOCS_BASE_URL) -> str:
    return f"{base}runbook.md#{anchor(RUNBOOK_SECTIONS.get(check, RUNBOOK_GENERAL))}"
