"""The rendered exposition of a few refresh rounds, byte for byte as the golden files.

Rendering is optimised for organisations (one collection for both formats, the
finding series cut at their limit, diffs skipped for unchanged reports): these
files were rendered before any of it and must not change. Regenerate them only for
an intended change of the metrics: ``python -m tests.daemon.test_render_golden``.
"""

from __future__ import annotations

import gzip
import re
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from benchmarks.synthetic import AS_OF, generate_report
from exporter.config import config_from_dict
from exporter.daemon.accounts import AccountsWiring
from exporter.daemon.exposition import ExpositionOptions, render
from exporter.daemon.labels import UserLabeler
from exporter.daemon.refresh import AccountTarget, Refresher
from exporter.daemon.snapshot import Exposition, Snapshot
from exporter.sources.base import FetchedReport, SourceError

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "exposition"
# Not in id order: the series are ordered by severity, then account id.
ACCOUNTS = ("300000000003", "100000000001", "200000000002")
CONFIG = config_from_dict(
    {"exemptions": [{"user": "alice*", "checks": ["console_without_mfa"], "reason": "kiosk"}]}
)


class Source:
    def __init__(self, account: str) -> None:
        self.content = generate_report(30, seed=int(account), account_id=account)
        self.error: Exception | None = None

    def fetch(self) -> FetchedReport:
        if self.error is not None:
            raise self.error
        return FetchedReport(self.content, AS_OF - timedelta(hours=2))


def renderings() -> dict[str, bytes]:
    """Every golden file's expected bytes, rendered by the current code."""
    sources = {a: Source(a) for a in ACCOUNTS}
    targets = [AccountTarget(a, f"name-{a}", sources[a]) for a in ACCOUNTS]
    wiring = AccountsWiring(CONFIG, fixed=targets)
    options = ExpositionOptions(finding_series_limit=40, collectors=(wiring.collector,))
    clock = [AS_OF]
    refresher = Refresher(wiring.targets, CONFIG, options, now=lambda: clock[0],
                          hooks=[wiring.state_hook])  # fmt: skip
    out: dict[str, bytes] = {}
    try:
        out.update(_files("round1", _pinned(refresher.run(), options)))
        # Round 2: one report changed (another seed: users created, deleted, changed),
        # one unchanged, one failing (its last good report stays).
        clock[0] = AS_OF + timedelta(days=1)
        sources[ACCOUNTS[1]].content = generate_report(30, seed=7, account_id=ACCOUNTS[1])
        sources[ACCOUNTS[2]].error = SourceError("throttled", "Rate exceeded")
        second = refresher.run()
        out.update(_files("round2", _pinned(second, options)))
        # Round 3: nothing changed since round 2 (the changes counters stay).
        clock[0] = AS_OF + timedelta(days=2)
        sources[ACCOUNTS[2]].error = None
        third = refresher.run()
        out.update(_files("round3", _pinned(third, options)))
    finally:
        refresher.close()
    states = tuple(replace(s, duration_seconds=0.0) for s in third.accounts)
    hashed = replace(options, finding_series_limit=10_000, user_facts=True,
                     user_label=UserLabeler("hash", b"k" * 16))  # fmt: skip
    facts = render(states, CONFIG, hashed, third.pending, third.exemptions)
    out.update(_files("hashed-facts", facts))
    none = replace(options, user_label=UserLabeler("none"))
    out.update(_files("no-users", render(states, CONFIG, none, (), third.exemptions)))
    out["limit0.txt"] = _unbuilt(render(states, CONFIG, replace(options, finding_series_limit=0),
                                        (), third.exemptions).text)  # fmt: skip
    return out


def _pinned(snapshot: Snapshot, options: ExpositionOptions) -> Exposition:
    """The snapshot's exposition, checked, then rendered with its refresh durations at 0
    (they are measured, so they differ from run to run)."""
    states = snapshot.accounts
    assert render(states, CONFIG, options, snapshot.pending, snapshot.exemptions) == (
        snapshot.exposition
    )
    pinned = tuple(replace(s, duration_seconds=0.0) for s in states)
    return render(pinned, CONFIG, options, snapshot.pending, snapshot.exemptions)


# The build's own labels (version, git revision, Python) change with every commit and
# machine, not with the rendering: the golden files hold them as placeholders.
_BUILD = re.compile(rb"^(aws_iam_exporter_build_info)\{[^}]*\}", re.MULTILINE)


def _unbuilt(body: bytes) -> bytes:
    return _BUILD.sub(rb'\1{pythonversion="X",revision="X",version="X"}', body)


def _files(name: str, exposition: Exposition) -> dict[str, bytes]:
    assert gzip.decompress(exposition.text_gzip) == exposition.text
    assert gzip.decompress(exposition.openmetrics_gzip) == exposition.openmetrics
    return {
        f"{name}.txt": _unbuilt(exposition.text),
        f"{name}.om.txt": _unbuilt(exposition.openmetrics),
    }


def test_renderings_are_byte_identical_to_the_golden_files() -> None:
    expected = renderings()
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(expected)
    for name, content in expected.items():
        assert (GOLDEN / name).read_bytes() == content, name


def test_the_golden_files_cover_changes_failures_and_the_limit() -> None:
    round2 = (GOLDEN / "round2.txt").read_text()
    assert 'aws_iam_credential_changes_total{account_id="100000000001",change="user_created"}' \
        in round2  # fmt: skip
    assert 'aws_iam_exporter_refresh_success{account_id="200000000002"} 0.0' in round2
    assert 'aws_iam_finding_series_dropped{account_id="300000000003"}' in round2
    assert sum(x.startswith("aws_iam_finding{") for x in round2.splitlines()) == 40
    hashed = (GOLDEN / "hashed-facts.txt").read_text()
    assert "aws_iam_user_mfa_active{" in hashed and 'user="alice' not in hashed


if __name__ == "__main__":
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for old in GOLDEN.iterdir():
        old.unlink()
    for file, data in renderings().items():
        (GOLDEN / file).write_bytes(data)
    print(f"wrote {len(list(GOLDEN.iterdir()))} files to {GOLDEN}", file=sys.stderr)
