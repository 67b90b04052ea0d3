"""--state.dir with the real serve process: restart served at once, no change flood,
0600 files, a corrupt file ignored."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.aws_exporter import (
    FAST_AWS_FLAGS,
    MOTO_ACCOUNT,
    add_users,
    moto_behind_proxy,
    success,
    users,
    wait_samples,
)
from tests.support.exporter_process import REPO, exporter_process, sample_value
from tests.support.moto import aws_env
from tests.support.net import free_port

pytestmark = pytest.mark.slow


def created(samples: dict) -> float | None:  # type: ignore[type-arg]
    return sample_value(
        samples, "aws_iam_credential_changes_total", account_id=MOTO_ACCOUNT, change="user_created"
    )


def test_restart_serves_saved_data_before_aws_answers_without_a_change_flood(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    flags = (*FAST_AWS_FLAGS, "--state.dir", str(state_dir))
    with moto_behind_proxy(users=3) as (endpoint, proxy):
        env = aws_env(proxy.url)
        with exporter_process(*flags, env=env, ready=False) as first:
            wait_samples(first, lambda s: success(s) == 1 and users(s) == 3)
            assert first.stop() == 0
        files = list(state_dir.glob("report-*.json"))
        assert len(files) == 1
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600

        add_users(endpoint, ["newcomer"])
        proxy.set("in_progress")  # AWS will not deliver a report until told to
        with exporter_process(*flags, env=env, ready=True) as second:
            # Ready and serving the saved report although AWS has not answered.
            restored = second.samples()
            assert users(restored) == 3
            assert sample_value(
                restored,
                "aws_iam_exporter_last_refresh_success_timestamp_seconds",
                account_id=MOTO_ACCOUNT,
            )
            assert success(restored) in (None, 0.0)
            proxy.set("pass")
            after = wait_samples(second, lambda s: success(s) == 1 and users(s) == 4)
            # Only the one real newcomer, not every user of the account.
            assert created(after) == 1


def test_a_corrupt_state_file_is_logged_and_ignored(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    flags = (*FAST_AWS_FLAGS, "--state.dir", str(state_dir))
    with moto_behind_proxy(users=2) as (_, proxy):
        env = aws_env(proxy.url)
        with exporter_process(*flags, env=env, ready=False) as first:
            wait_samples(first, lambda s: success(s) == 1)
        (path,) = state_dir.glob("report-*.json")
        path.write_bytes(path.read_bytes()[:100])  # torn by a disk fault
        (state_dir / "report-foreign-0000.json").write_text('{"hello": "world"}')
        with exporter_process(*flags, env=env, ready=False) as second:
            wait_samples(second, lambda s: success(s) == 1 and users(s) == 2)
            log = second.log()
            assert "ignoring state file" in log and "not valid JSON" in log
            assert "not a state file of this exporter" in log
            assert "Traceback" not in log


def test_a_second_exporter_on_the_same_state_dir_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    with exporter_process("--demo", "--state.dir", str(state_dir)) as first:
        second = subprocess.run(
            [sys.executable, "-m", "exporter", "serve", "--demo", "--state.dir", str(state_dir),
             "--web.listen-address", f"127.0.0.1:{free_port()}"],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert f"in use by another exporter (pid {first.proc.pid} " in second.stderr
        assert "Traceback" not in second.stderr
        assert first.get("/-/ready")[0] == 200  # the first one is undisturbed
