"""The landing page's findings per owner (with --labels.owner-tag): across every account,
the owners with the worst findings first, counted as ``aws_iam_findings_by_owner``
counts them, so that the page and the dashboards agree."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape

from exporter.core.findings import SEVERITIES
from exporter.core.owners import NO_OWNER
from exporter.daemon.owner_metrics import owner_counts
from exporter.daemon.snapshot import AccountState


def owners_section(accounts: Sequence[AccountState], owner_tags: tuple[str, ...]) -> str:
    """ "" without an owner tag (no owner is read), else the table, or a line saying that
    no finding has an owner yet."""
    if not owner_tags:
        return ""
    totals: dict[str, Counter[str]] = {}
    for state in accounts:
        for (owner, severity), count in (owner_counts(state, owner_tags) or {}).items():
            totals.setdefault(owner, Counter())[severity] += count
    tags = ", ".join(f"<code>{escape(t)}</code>" for t in owner_tags)
    out = [
        "<section id='owners'><h2>Findings by owner</h2>",
        f"<p>The owner of a user or role is the value of its first IAM tag of {tags}.</p>",
    ]
    rows = sorted(totals.items(), key=_worst_first)
    if not rows:
        out.append("<p>No findings of users or roles.</p></section>")
        return "\n".join(out)
    head = "".join(f"<th class='n'>{s}</th>" for s in SEVERITIES)
    out.append(f"<div class='scroll'><table class='owners'><tr><th>Owner</th>{head}</tr>")
    for owner, counts in rows:
        name = escape(owner) if owner != NO_OWNER else "<em>no owner tag</em>"
        cells = "".join(
            f"<td class='n {s if counts[s] else 'zero'}'>{counts[s]:,}</td>" for s in SEVERITIES
        )
        out.append(f"<tr><td>{name}</td>{cells}</tr>")
    out.append("</table></div></section>")
    return "\n".join(out)


def _worst_first(item: tuple[str, Counter[str]]) -> tuple[object, ...]:
    owner, counts = item
    # Owners before the findings nobody owns, which have no one to route to.
    return (owner == NO_OWNER, *(-counts[s] for s in SEVERITIES), owner)
