"""The real CLI process on a pseudo-terminal, as a user's shell runs it: the audit
table (summary first, fitted to the width, coloured unless NO_COLOR), the live
progress while AWS generates a report, ``diff`` without changes; and the same
commands on pipes, where none of that appears."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from benchmarks.synthetic import AS_OF, generate_report
from tests.support.fault_proxy import FaultProxy, reset_moto
from tests.support.moto import aws_env, moto_server
from tests.support.pty_cli import ROOT, run_on_pty
from tests.support.reports import AS_OF_TEXT, FIXTURES, key, report, root_row, saved, ts, user_row

pytestmark = pytest.mark.slow

NO_COLOR = {"NO_COLOR": "1"}
ESC = "\x1b["
REAL = str(FIXTURES / "reports" / "aws_real.csv")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("big") / "report-2000.csv"
    path.write_bytes(generate_report(2000))
    return str(path)


def audit_on_pty(*args: str, columns: int = 80, color: bool = False) -> str:
    run = run_on_pty("audit", *args, columns=columns, env=None if color else NO_COLOR)
    assert run.code == 0, run.screen
    return run.screen


def test_2000_users_at_80_columns_summary_first_and_nothing_wraps(big: str) -> None:
    as_of = AS_OF.isoformat().replace("+00:00", "Z")
    screen = audit_on_pty("--report-file", big, "--as-of", as_of)
    lines = screen.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert ESC not in screen  # NO_COLOR, and the progress drew nothing for a file
    # Summary (severities, then checks), then the findings, worst first.
    assert lines[0] == f"IAM credential audit as of {as_of}"
    assert re.fullmatch(r"\d+ finding\(s\): 1 critical, \d+ high, \d+ medium, \d+ low", lines[2])
    assert lines[4].split() == ["SEVERITY", "CHECK", "FINDINGS", "TITLE"]
    assert lines[5].split()[:2] == ["CRITICAL", "root_mfa_disabled"]
    start = lines.index("Findings, worst first (" + lines[2].split()[0] + "):")
    assert lines[start + 2] == "CRITICAL  root_mfa_disabled: 1 finding(s)"
    severities = [line.split()[0] for line in lines[start:] if line[:1].isupper()
                  and line.split()[0] in ("CRITICAL", "HIGH", "MEDIUM", "LOW")]  # fmt: skip
    order = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    assert severities == sorted(severities, key=order.index)
    # One account: no account column; thousands of findings still fit a few screens.
    assert "ACCOUNT  " not in "\n".join(lines[start : start + 2])
    assert "… and " in screen and "--check access_key_not_rotated lists them all" in screen
    assert len(lines) < 250


def test_long_names_are_cut_with_an_ellipsis(tmp_path: Path) -> None:
    long_name = "a-very-long-user-name-for-a-service-account-that-goes-on-and-on"
    path = saved(
        tmp_path / "r.csv", report(root_row(), user_row(long_name, **key(1, rotated=ts(400))))
    )
    screen = audit_on_pty("--report-file", str(path), "--as-of", AS_OF_TEXT, columns=60)
    assert max(len(line) for line in screen.splitlines()) <= 60
    assert long_name not in screen and "a-very-long-user-name" in screen and "…" in screen


def test_user_names_sort_naturally(tmp_path: Path) -> None:
    names = ["alice.12", "alice.6", "alice.100", "Alice.7"]
    rows = [user_row(n, **key(1, rotated=ts(400))) for n in names]
    path = saved(tmp_path / "r.csv", report(root_row(), *rows))
    screen = audit_on_pty("--report-file", str(path), "--as-of", AS_OF_TEXT)
    group = screen[screen.index("access_key_not_rotated: 4 finding(s)") :].splitlines()[1:5]
    assert [line.split()[0] for line in group] == ["alice.6", "Alice.7", "alice.12", "alice.100"]


def test_the_account_column_only_with_several_accounts(tmp_path: Path) -> None:
    several = audit_on_pty("--demo", columns=120)
    assert "  ACCOUNT       USER" in several
    one = audit_on_pty("--report-file", REAL, "--as-of", AS_OF_TEXT, columns=120)
    findings = one[one.index("Findings, worst first") :]
    assert findings.splitlines()[1].split() == ["USER", "KEY", "MESSAGE"]


def test_the_owner_column_follows_the_user_when_an_owner_tag_is_read() -> None:
    # The demo reads its team tag as the owner: an OWNER column, as the plain table has.
    screen = audit_on_pty("--demo", columns=120)
    lines = screen[screen.index("Findings, worst first") :].splitlines()
    assert lines[1].split()[:4] == ["ACCOUNT", "USER", "OWNER", "KEY"]
    at = lines[1].index("OWNER")
    rows = [line for line in lines if line.startswith("  ") and line.strip()]
    assert max(len(line) for line in screen.splitlines()) <= 120
    assert any(" ci-deploy " in r and r[at:].split()[0] == "platform" for r in rows)
    assert any(" role/nightly-report-lambda " in r and r[at:].split()[0] == "data" for r in rows)
    # A report file has no tags: the column is there, every cell empty.
    one = audit_on_pty("--report-file", REAL, "--as-of", AS_OF_TEXT, "--labels.owner-tag",
                       "team", columns=120)  # fmt: skip
    header = one[one.index("Findings, worst first") :].splitlines()[1]
    assert header.split() == ["USER", "OWNER", "KEY", "MESSAGE"]


def test_severities_coloured_on_a_terminal_unless_no_color() -> None:
    coloured = audit_on_pty("--report-file", REAL, "--as-of", AS_OF_TEXT, color=True)
    assert "\x1b[1;31mCRITICAL" in coloured and "\x1b[31mHIGH" in coloured
    assert "\x1b[1;31m1 critical\x1b[0m" in coloured
    plain = audit_on_pty("--report-file", REAL, "--as-of", AS_OF_TEXT)
    assert ESC not in plain and "CRITICAL" in plain


def test_check_lists_every_finding_of_that_check(big: str) -> None:
    screen = audit_on_pty("--report-file", big, "--check", "user_inactive")
    assert "… and" not in screen
    group = screen[screen.index("LOW  user_inactive: ") :].splitlines()
    count = int(group[0].split(": ")[1].split()[0])
    assert sum(1 for line in group[1:] if line.startswith("  ") and line.strip()) >= count


def test_on_a_pipe_the_plain_table_is_unchanged() -> None:
    # The layout for scripts and files is the flat table, with no colour or cuts.
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "audit", "--report-file", REAL, "--as-of", AS_OF_TEXT,
         "--format", "table"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
        env={**aws_env("http://127.0.0.1:9"), "TERM": "xterm"},
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[2].split() == ["SEVERITY", "ACCOUNT", "USER", "CHECK", "KEY", "MESSAGE"]
    assert (
        len([line for line in lines if line.startswith(("CRITICAL", "HIGH", "MEDIUM", "LOW"))])
        == 17
    )
    assert (
        ESC not in proc.stdout
        and "…" not in proc.stdout
        and "Findings, worst first" not in proc.stdout
    )


def test_diff_without_changes_says_so_on_a_terminal() -> None:
    new = str(FIXTURES / "reports" / "diff_new.csv")
    run = run_on_pty("diff", new, new, env=NO_COLOR)
    assert run.code == 0
    assert run.screen == "No changes: both reports list the same users with the same credentials.\n"
    assert run_on_pty("diff", new, new, "--fail-on-change", env=NO_COLOR).code == 0
    old = str(FIXTURES / "reports" / "diff_old.csv")
    assert run_on_pty("diff", old, new, "--fail-on-change", env=NO_COLOR).code == 1


@pytest.fixture(scope="module")
def slow_aws() -> Iterator[tuple[FaultProxy, dict[str, str]]]:
    """moto behind a proxy that answers "in progress" to the first report requests."""
    with moto_server() as url, FaultProxy(url) as proxy:
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", **keys)
        reset_moto(url)  # moto's state is process-wide: start from nothing, leave nothing
        iam.create_user(UserName="pty-progress-user")
        try:
            yield proxy, {**aws_env(proxy.url), "NO_COLOR": "1"}
        finally:
            reset_moto(url)


def test_live_audit_shows_progress_on_a_terminal(
    slow_aws: tuple[FaultProxy, dict[str, str]],
) -> None:
    proxy, env = slow_aws
    proxy.set("in_progress", times=4)  # about 0.5 + 1 + 2 + 4 s of polling
    run = run_on_pty("audit", "--allow-incomplete", env=env)
    assert run.code == 0, run.screen
    assert "auditing 1 account: 0 done, 1 to go" in run.screen
    assert (
        "ambient account: waiting for the credential report (AWS may take up to 2m)" in run.screen
    )
    assert "\x1b[J" in run.screen  # erased before the table
    table = run.screen[run.screen.rindex("\x1b[J") + 3 :]
    assert table.startswith("IAM credential audit as of ")


def test_live_audit_writes_no_progress_on_a_pipe(
    slow_aws: tuple[FaultProxy, dict[str, str]],
) -> None:
    proxy, env = slow_aws
    proxy.set("in_progress", times=4)
    # stdout on the terminal, stderr a pipe: the progress goes to stderr only if it is one.
    run = run_on_pty("audit", "--allow-incomplete", env=env, stderr_tty=False)
    assert run.code == 0
    assert run.stderr == ""
    assert run.screen.startswith("IAM credential audit as of ")


def test_diff_fits_the_terminal_and_names_the_account_once() -> None:
    old, new = (str(FIXTURES / "reports" / n) for n in ("diff_old.csv", "diff_new.csv"))
    run = run_on_pty("diff", old, new, columns=50, env=NO_COLOR)
    assert run.code == 0
    lines = run.screen.splitlines()
    assert max(len(line) for line in lines) <= 50 and "…" in run.screen
    assert lines[0].split() == ["CHANGE", "USER", "KEY", "DETAIL"]
    assert lines[-1] == "13 change(s) in account 111122223333"
