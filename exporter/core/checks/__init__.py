"""The credential checks: one function and one ``CheckSpec`` per check, whatever its scope.

``spec`` says what a check is, ``catalogue`` lists them all, and the functions live
in a module per kind of subject: ``report`` (rows of the credential report: scopes
root, user, any), ``roles`` (scope role) and ``account`` (scope account).
"""

from exporter.core.checks.catalogue import CATALOGUE, CHECKS, findings_of_scope, ids_of_scope
from exporter.core.checks.spec import (
    DETAIL_SCOPES,
    REPORT_SCOPES,
    SCOPES,
    CheckFn,
    CheckSpec,
    Hit,
    Thresholds,
    cutoff,
    days_since,
)

__all__ = [
    "CATALOGUE",
    "CHECKS",
    "DETAIL_SCOPES",
    "REPORT_SCOPES",
    "SCOPES",
    "CheckFn",
    "CheckSpec",
    "Hit",
    "Thresholds",
    "cutoff",
    "days_since",
    "findings_of_scope",
    "ids_of_scope",
]
