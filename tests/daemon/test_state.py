"""StateStore: round trip, 0600 files, crash safety, corrupt and foreign files ignored."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from exporter.daemon import state_store as state_module
from exporter.daemon.state_store import (
    STATE_FORMAT,
    SavedReport,
    StateError,
    StateStore,
    atomic_write,
)
from tests.support.exporter_process import REPO

WHEN = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def saved(key: str = "123456789012", content: bytes = b"user,arn\nalice,x\n") -> SavedReport:
    return SavedReport(key, content, WHEN, WHEN, account_id="123456789012", name="prod")


def test_round_trip_and_file_modes(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    store.save_report(saved())
    assert store.load_report("123456789012") == saved()
    assert store.load_all() == {"123456789012": saved()}
    path = store.path_for("123456789012")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    doc = json.loads(path.read_text())
    assert doc["format"] == STATE_FORMAT and doc["version"] == 2


def test_mode_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = StateStore(tmp_path)
        store.save_report(saved())
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path_for("123456789012").stat().st_mode) == 0o600


def test_keys_with_odd_characters_get_distinct_safe_names(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    keys = ["/srv/reports/a.csv", "/srv/reports_a.csv", "../../etc/passwd", "ambient"]
    for key in keys:
        store.save_report(saved(key))
    assert {p.parent for p in tmp_path.iterdir()} == {tmp_path}
    assert set(store.load_all()) == set(keys)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not valid JSON"),
        (b'{"format": "aws-iam-credential-exporter/st', "not valid JSON"),
        (b"\x00\xff\xfe garbage", "not valid JSON"),
        (b'{"some": "other program"}', "not a state file of this exporter"),
        (b"[1, 2, 3]", "not a state file of this exporter"),
        (json.dumps({"format": STATE_FORMAT, "version": 99}).encode(), "format version 99"),
    ],
)
def test_corrupt_or_foreign_files_are_logged_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, problem: str
) -> None:
    store = StateStore(tmp_path)
    store.path_for("123456789012").write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="exporter.state"):
        assert store.load_report("123456789012") is None
        assert store.load_all() == {}
    assert problem in caplog.text


def test_tampered_content_fails_the_checksum(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved())
    path = store.path_for("123456789012")
    doc = json.loads(path.read_text())
    doc["content"] = "dXNlcixhcm4KbWFsbG9yeSx4Cg=="  # another valid base64 report
    path.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="exporter.state"):
        assert store.load_report("123456789012") is None
    assert "checksum" in caplog.text


def test_a_file_for_another_source_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved("111111111111"))
    store.path_for("111111111111").rename(store.path_for("222222222222"))
    with caplog.at_level(logging.WARNING, logger="exporter.state"):
        assert store.load_report("222222222222") is None
        assert store.load_all() == {}
    assert "belongs to source '111111111111'" in caplog.text


def test_a_failed_write_never_replaces_the_good_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved(content=b"good"))

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_module.os, "fsync", crash)
    with pytest.raises(StateError, match="No space left on device"):
        store.save_report(saved(content=b"new"))
    monkeypatch.undo()
    assert store.load_report("123456789012") == saved(content=b"good")
    names = [p.name for p in tmp_path.iterdir() if p.name != "exporter.lock"]
    assert names == [store.path_for("123456789012").name]


def test_temp_files_left_by_a_crash_are_ignored_and_removed(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved(content=b"good"))
    name = store.path_for("123456789012").name
    leftover = tmp_path / f".{name}.tmp-999-abcd"
    leftover.write_bytes(b'{"format": "aws-iam-credential-exporter/state", "vers')  # half written
    assert store.load_all() == {"123456789012": saved(content=b"good")}
    store.close()
    StateStore(tmp_path)  # the next start cleans up
    assert not leftover.exists()


_WRITER = """
import sys
import threading
from datetime import datetime, timezone
from exporter.daemon.state_store import SavedReport, StateStore
store = StateStore(sys.argv[1])
when = datetime.now(timezone.utc)
i = 0
print("ready", flush=True)
while True:
    i += 1
    body = (b"%d," % i) * 200_000  # ~1.5 MB: a write takes a while, kills land mid-write
    store.save_report(SavedReport("acct", body, when, when))
"""


def test_killing_the_writer_at_random_points_never_leaves_a_broken_file(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save_report(SavedReport("acct", b"0,", WHEN, WHEN))
    store.close()  # the writer must own the directory
    for attempt in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(0.05 + 0.07 * attempt)  # vary where the kill lands
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        loaded = StateStore(tmp_path).load_report("acct")  # also removes the temp leftovers
        assert loaded is not None, "the state file was lost or broken by a crash"
        counter = loaded.content.split(b",", 1)[0]
        assert loaded.content == (counter + b",") * (len(loaded.content) // (len(counter) + 1))


def test_unusable_directories_are_refused_with_a_message(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(StateError, match=r"--state\.dir: cannot create"):
        StateStore(a_file / "sub")
    with pytest.raises(StateError, match="is not a directory"):
        StateStore(a_file)
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(StateError, match="is not writable"):
            StateStore(ro)


def test_write_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="cannot write state file"):
        atomic_write(tmp_path / "missing-dir" / "f.json", b"x")


def load_all_within(store: StateStore, seconds: float) -> dict[str, SavedReport] | None:
    """``store.load_all()``, or None if it has not returned after ``seconds``."""
    out: list[dict[str, SavedReport]] = []
    thread = threading.Thread(target=lambda: out.append(store.load_all()), daemon=True)
    thread.start()
    thread.join(seconds)
    return out[0] if out else None


def test_a_fifo_among_the_state_files_is_skipped_without_blocking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved(content=b"good"))
    fifo = tmp_path / "report-fifo-000000000000.json"
    os.mkfifo(fifo)
    try:
        with caplog.at_level(logging.WARNING, logger="exporter.state"):
            found = load_all_within(store, 5.0)
        assert found == {"123456789012": saved(content=b"good")}
        assert "not a regular file" in caplog.text
    finally:
        # Unblocks a reader stuck in open() (before the fix), so no thread is left.
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "regular"])
def test_a_symlink_among_the_state_files_is_not_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    store = StateStore(tmp_path / "state")
    store.save_report(saved(content=b"good"))
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(store.path_for("123456789012").read_bytes())
    link = tmp_path / "state" / "report-link-000000000000.json"
    link.symlink_to(elsewhere if target == "regular" else target)
    with caplog.at_level(logging.WARNING, logger="exporter.state"):
        found = load_all_within(store, 5.0)
    assert found == {"123456789012": saved(content=b"good")}
    assert "symbolic link" in caplog.text


def test_a_state_file_over_the_size_cap_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path, max_report_bytes=1000)
    store.save_report(saved(content=b"x" * 900))
    big = tmp_path / "report-big-000000000000.json"
    with big.open("wb") as f:
        f.truncate(10 << 30)  # sparse: 10 GiB that would all be read
    with caplog.at_level(logging.WARNING, logger="exporter.state"):
        found = load_all_within(store, 5.0)
    assert found == {"123456789012": saved(content=b"x" * 900)}
    assert "larger than" in caplog.text
    (tmp_path / "report-dir-000000000000.json").mkdir()
    assert load_all_within(store, 5.0) == found


_HOLDER = """
import sys
from exporter.daemon.state_store import StateStore
store = StateStore(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()  # holds the directory until the test closes its stdin
"""


def test_a_second_process_on_the_directory_is_refused_naming_the_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline() == b"ready\n"
        # A write of the holder in progress: its temp file must survive.
        temp = tmp_path / f".report-x-000000000000.json.tmp-{holder.pid}-abcd"
        temp.write_bytes(b"half written")
        with pytest.raises(StateError, match=rf"in use by another exporter \(pid {holder.pid} "):
            StateStore(tmp_path)
        assert temp.exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    # Once it has stopped the directory is free, and what it left behind is cleaned up.
    StateStore(tmp_path)
    assert not temp.exists()
    assert f"pid {os.getpid()} " in (tmp_path / "exporter.lock").read_text()


def test_stores_of_one_process_share_the_directory(tmp_path: Path) -> None:
    first = StateStore(tmp_path)
    first.save_report(saved())
    assert StateStore(tmp_path).load_report("123456789012") == saved()
