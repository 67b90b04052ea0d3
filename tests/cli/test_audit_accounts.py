"""``audit`` across accounts: parallel, progress only on a TTY, keeps going past failures."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import pytest

from exporter.cli import audit_accounts as accounts_module
from exporter.cli.audit_accounts import audit_accounts
from exporter.cli.main import main
from exporter.cli.progress import Progress
from exporter.config import config_from_dict
from exporter.config.accounts import parse_accounts
from exporter.sources.aws.directory import AccountDirectory
from exporter.sources.base import FetchedReport, SourceError
from tests.sources.test_aws_accounts import denied_sts
from tests.support.net import free_port
from tests.support.org import MEMBERS, Org

pytestmark = pytest.mark.slow


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Broken:
    def fetch(self) -> FetchedReport:
        raise SourceError("throttled", "AWS throttled the request (Throttling)")


def directory_for(org: Org, broken: str | None = None) -> AccountDirectory:
    cfg = parse_accounts({"organizations": {"exclude": {"accounts": [org.management_id]}}})
    return AccountDirectory(
        cfg,
        sts_client_creator=lambda s: denied_sts(broken) if s.account_id == broken else None,
    )


def test_failing_accounts_are_listed_and_the_others_audited(org: Org) -> None:
    broken = org.members["prod"]
    directory = directory_for(org, broken)
    sources = [(s.name, directory.source(s)) for s in directory.refresh().owned]
    sources.append(("throttled-one", Broken()))  # type: ignore[arg-type]
    config = config_from_dict({"flags": {"refresh.workers": 3}})
    err = io.StringIO()
    results, failed = audit_accounts(sources, config, datetime.now(timezone.utc), err, True)
    assert len(results) == len(MEMBERS) - 1
    assert [(f["account"], f["reason"]) for f in failed] == [
        ("prod", "role_missing"),
        ("throttled-one", "throttled"),
    ]
    assert err.getvalue() == ""  # not a TTY: no progress bar, and no partial failures


def test_progress_only_on_a_tty_per_account_and_stage(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Drawn from the start (no delay), so that moto's quick answers show too.
    monkeypatch.setattr(accounts_module, "Progress", partial(Progress, delay=0, interval=0.01))
    directory = directory_for(org)
    sources = [(s.name, directory.source(s)) for s in directory.refresh().owned]
    tty = FakeTTY()
    now = datetime.now(timezone.utc)
    results, failed = audit_accounts(sources, config_from_dict({}), now, tty, True)
    assert len(results) == len(MEMBERS) and not failed
    shown = tty.getvalue()
    assert f"auditing {len(MEMBERS)} accounts: 0 done" in shown
    assert "waiting for the credential report (AWS may take up to 2m)" in shown
    assert any(f"  {s}: waiting for the credential report" in shown for s, _ in sources)
    assert shown.endswith("\x1b[J")  # the block is erased at the end


def test_cli_audit_over_the_organization(
    org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Role in dev, never used: role_unused fires once the role is older than 90 days.
    dev = org.members["dev"]
    org.session(dev).client("iam").create_role(
        RoleName="forgotten", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}'
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"accounts:\n  organizations:\n    exclude:\n      accounts: ['{org.management_id}']\n"
    )
    as_of = (datetime.now(timezone.utc) + timedelta(days=120, hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    code = main(["audit", "--config", str(config), "--format", "json", "--as-of", as_of,
                 "--allow-incomplete"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["failed_accounts"] == []
    accounts = {f["account_id"] for f in doc["findings"]}
    assert accounts == set(org.members.values())
    roles = [f for f in doc["findings"] if f["check"] == "role_unused"]
    forgotten = [f for f in roles if f["arn"] == f"arn:aws:iam::{dev}:role/forgotten"]
    assert len(forgotten) == 1 and forgotten[0]["user"] == ""
    assert forgotten[0]["message"] == "Role forgotten never used; created 120 days ago"
    assert err == ""


def test_cli_exits_2_when_no_account_can_be_audited(
    org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # STS refuses connections: no role can be assumed, in any account (a real failure).
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{free_port()}")
    config = tmp_path / "config.yaml"
    config.write_text(
        "accounts:\n  list:\n"
        f"    - {{account_id: '{org.members['dev']}', name: dev,"
        f" role_arn: 'arn:aws:iam::{org.members['dev']}:role/reader'}}\n"
        f"    - {{account_id: '{org.members['prod']}', name: prod,"
        f" role_arn: 'arn:aws:iam::{org.members['prod']}:role/reader'}}\n"
    )
    code = main(["audit", "--config", str(config), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert f"dev ({org.members['dev']}): connection_error: cannot assume" in err
    assert f"prod ({org.members['prod']}): connection_error" in err
    assert "no account could be audited" in err


def test_cli_partial_failure_still_audits_and_does_not_exit_2(
    org: Org, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """audit continues past failing accounts, lists them at the end, and exits 2
    only when no account could be audited."""
    from exporter.sources.aws import directory

    real = directory.account_sources
    monkeypatch.setattr(
        directory, "account_sources", lambda config: [*real(config), ("throttled-one", Broken())]
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"accounts:\n  organizations:\n    exclude: {{accounts: ['{org.management_id}']}}\n"
    )
    as_of = (datetime.now(timezone.utc) + timedelta(days=120, hours=1)).strftime("%Y-%m-%dT%H:%MZ")
    code = main(["audit", "--config", str(config), "--format", "json", "--as-of", as_of,
                 "--allow-incomplete"])  # fmt: skip
    out, err = capsys.readouterr()
    doc = json.loads(out)  # users idle since creation 120 days ago: user_inactive
    assert {f["account_id"] for f in doc["findings"]} == set(org.members.values())
    assert doc["failed_accounts"] == [
        {"account": "throttled-one", "reason": "throttled",
         "message": "AWS throttled the request (Throttling)"}
    ]  # fmt: skip
    assert "could not audit throttled-one (throttled)" in err
    assert code == 0


def test_cli_refuses_accounts_whose_report_has_no_root_row(
    org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # moto's reports have no <root_account> row: no account can be audited without the flag.
    config = tmp_path / "config.yaml"
    config.write_text(
        f"accounts:\n  organizations:\n    exclude: {{accounts: ['{org.management_id}']}}\n"
    )
    code = main(["audit", "--config", str(config), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.splitlines()
    for name in MEMBERS:
        [line] = [x for x in lines if x.startswith(f"iam-credential-exporter: error: {name} (")]
        assert ": incomplete_report: the credential report has no <root_account> row" in line
    assert lines[-1] == "iam-credential-exporter: error: no account could be audited"


def test_cli_lists_every_account_audited_clean_or_not(
    org: Org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"accounts:\n  organizations:\n    exclude: {{accounts: ['{org.management_id}']}}\n"
    )
    code = main(["audit", "--config", str(config), "--format", "json", "--allow-incomplete"])
    out, err = capsys.readouterr()
    assert code == 0, err
    accounts = json.loads(out)["accounts"]
    assert {a["account_id"] for a in accounts} == set(org.members.values())
    for a in accounts:
        assert a["complete"] is False and a["result"] in ("clean", "findings")
        assert a["users"] >= 0 and a["report_age_seconds"] is not None
        assert "root_mfa_disabled" in a["not_evaluated"]
        assert "role_unused" not in a["not_evaluated"]  # roles were fetched
