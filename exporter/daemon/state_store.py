"""Durable state under ``--state.dir``: the last good report of each account.

From it the daemon rebuilds its snapshot at start-up (served at once, before
AWS answers) and diffs the first refresh against the report seen before the
restart (no flood of ``user_created`` changes). Beside the report, a file of
format version 2 keeps the account facts and the users' owners of the same
refresh (state_details.py); files of version 1 (the report alone) are still read.

Each account has one JSON file, named after its id, written crash-safely: a temp file in the same
directory, fsync, rename over the old file, fsync the directory. A crash at
any point leaves either the old or the new file, never a mix. Files are mode
0600 (they hold the credential report) in a 0700 directory.

A file that is unreadable, corrupt, of another format or version, or that
belongs to another key is logged and ignored: state is an optimisation,
never a reason not to start. Only regular files are read, never through a
symbolic link, without blocking (a FIFO would hang the start-up) and up to a size
cap derived from ``--report.max-bytes`` (a link to ``/dev/zero`` would be read
until memory runs out).

One process owns a directory: ``exporter.lock`` in it is locked (``flock``) for as
long as the process has a store open there, and names the process (pid, host,
since when). A second exporter on the same directory is refused at start-up with
that name, instead of both writing the same files and each deleting the other's
temp files as crash leftovers. Stores of one process share its lock; the leftovers
are removed when the process takes the lock.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import stat
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from exporter.config.settings import Settings
from exporter.core.records import AccountFacts
from exporter.daemon.state_details import (
    SavedOwners,
    SectionError,
    decode_facts,
    decode_owners,
    encode_facts,
    encode_owners,
)

log = logging.getLogger("exporter.state")

STATE_FORMAT = "aws-iam-credential-exporter/state"
STATE_VERSION = 2  # written; 2 added the "facts" and "owners" sections
READ_VERSIONS = (1, 2)
# --report.max-bytes: the state file of the largest report accepted is read back.
DEFAULT_REPORT_MAX_BYTES = Settings().report_max_bytes
PRUNE_AFTER_SECONDS = 7 * 86400
_TEMP_MARK = ".tmp-"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


LOCK_FILE = "exporter.lock"


class StateError(ValueError):
    """The state directory cannot be used or a file cannot be written."""


class _DirectoryLock:
    """This process's ``flock`` on a directory's lock file, shared by its stores."""

    _held: ClassVar[dict[tuple[int, int], tuple[int, int]]] = {}  # (dev, inode) -> (fd, users)
    _guard: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def take(cls, directory: Path) -> tuple[tuple[int, int], bool]:
        """The lock's key, and True if this process has just taken it (not shared)."""
        info = os.stat(directory)
        key = (info.st_dev, info.st_ino)
        with cls._guard:
            held = cls._held.get(key)
            if held is not None:
                cls._held[key] = (held[0], held[1] + 1)
                return key, False
            path = directory / LOCK_FILE
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
            try:
                fd = os.open(path, flags, 0o600)
            except OSError as err:
                raise StateError(f"--state.dir: cannot open {path}: {err.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise StateError(
                    f"--state.dir: {directory} is in use by another exporter ({holder}); "
                    "give each exporter its own directory"
                ) from None
            except OSError as err:  # a file system without locks (some NFS)
                log.warning(
                    "cannot lock %s (%s): another exporter on this directory would not be noticed",
                    path,
                    err.strerror,
                )
            _write_holder(fd)
            cls._held[key] = (fd, 1)
            return key, True

    @classmethod
    def give_back(cls, key: tuple[int, int]) -> None:
        with cls._guard:
            fd, users = cls._held[key]
            if users > 1:
                cls._held[key] = (fd, users - 1)
                return
            del cls._held[key]
        os.close(fd)  # releases the flock


def _write_holder(fd: int) -> None:
    since = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    text = f"pid {os.getpid()} on host {socket.gethostname()} since {since}\n"
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode("utf-8", "replace"), 0)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"


@dataclass(frozen=True)
class SavedReport:
    # The account id (older versions keyed a --report-file by its path, the ambient
    # account by "ambient": persistence.restore reads account_id and dedupes).
    key: str
    content: bytes  # the raw report, as fetched
    generated_time: datetime | None  # the report's own GeneratedTime
    fetched_at: datetime  # the refresh that fetched it (the last success)
    account_id: str = ""  # the account_id label, when known
    name: str = ""  # the account's display name
    # The account facts of the same refresh (last good); None: not fetched, or a file
    # of version 1.
    facts: AccountFacts | None = None
    # The users' owners, saved only with --labels.owner-tag; None: not saved.
    owners: SavedOwners | None = None


class StateStore:
    """One directory of state files. Thread-safe: every write is a rename."""

    def __init__(
        self, directory: str | Path, max_report_bytes: int = DEFAULT_REPORT_MAX_BYTES
    ) -> None:
        self.directory = Path(directory)
        # base64 makes 4 bytes of 3. The owners give each user its name and at most one
        # tag value (256 characters): less than twice its report row (150 bytes and its
        # name twice). The facts and the JSON around are small.
        self.max_file_bytes = max_report_bytes * 10 // 3 + (64 << 10)
        if self.directory.exists() and not self.directory.is_dir():
            raise StateError(f"--state.dir: {directory} is not a directory")
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            raise StateError(f"--state.dir: cannot create {directory}: {err.strerror}") from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise StateError(f"--state.dir: {directory} is not writable")
        key, first = _DirectoryLock.take(self.directory)
        self._unlock = weakref.finalize(self, _DirectoryLock.give_back, key)
        if first:  # no store of this process is writing yet
            self._remove_stale_temp_files()

    def close(self) -> None:
        """Give back this store's share of the directory lock (also done when it is
        garbage-collected, and by the system when the process ends)."""
        self._unlock()

    def path_for(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
        return self.directory / f"report-{_UNSAFE.sub('_', key)[-64:]}-{digest}.json"

    def save_report(self, saved: SavedReport) -> None:
        document: dict[str, Any] = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "kind": "report",
            "key": saved.key,
            "account_id": saved.account_id,
            "name": saved.name,
            "generated_time": _iso(saved.generated_time),
            "fetched_at": _iso(saved.fetched_at),
            "sha256": hashlib.sha256(saved.content).hexdigest(),
            "content": base64.b64encode(saved.content).decode("ascii"),
        }
        if saved.facts is not None:
            document["facts"] = encode_facts(saved.facts)
        if saved.owners is not None:
            document["owners"] = encode_owners(saved.owners)
        data = json.dumps(document, separators=(",", ":")).encode("utf-8")
        atomic_write(self.path_for(saved.key), data)

    def load_report(self, key: str) -> SavedReport | None:
        path = self.path_for(key)
        if not path.exists():
            return None
        try:
            return _decode_report(path, key, self.max_file_bytes)
        except StateError as err:
            log.warning("ignoring state file %s: %s", path, err)
            return None

    def load_all(self) -> dict[str, SavedReport]:
        """Every valid saved report, by key; invalid files are logged and skipped."""
        found: dict[str, SavedReport] = {}
        for path in sorted(self.directory.glob("report-*.json")):
            try:
                saved = _decode_report(path, None, self.max_file_bytes)
            except StateError as err:
                log.warning("ignoring state file %s: %s", path, err)
                continue
            if self.path_for(saved.key) == path:
                found[saved.key] = saved
            else:
                log.warning("ignoring state file %s: it is named for another source", path)
        return found

    def prune(self, keep: set[str], older_than: float = PRUNE_AFTER_SECONDS) -> list[Path]:
        """Delete the report files of sources not in ``keep`` (removed, or moved to
        another shard) that were not written for ``older_than`` seconds. The delay
        keeps the state of accounts missing only because a discovery failed."""
        wanted = {self.path_for(key) for key in keep}
        cutoff = time.time() - older_than
        removed = []
        for path in self.directory.glob("report-*.json"):
            with contextlib.suppress(OSError):
                if path not in wanted and path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed.append(path)
        return removed

    def _remove_stale_temp_files(self) -> None:
        # Left behind by a crash between create and rename; never read.
        for stale in self.directory.glob(f".*{_TEMP_MARK}*"):
            with contextlib.suppress(OSError):
                stale.unlink()


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file."""
    temp = path.with_name(f".{path.name}{_TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # exact mode whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        _fsync_dir(path.parent)
    except OSError as err:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise StateError(f"cannot write state file {path}: {err.strerror or err}") from None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _decode_report(path: Path, key: str | None, limit: int) -> SavedReport:
    doc = _read_document(path, limit)
    if doc.get("kind") != "report":
        raise StateError(f"kind is {doc.get('kind')!r}, expected 'report'")
    if key is not None and doc.get("key") != key:
        raise StateError(f"it belongs to source {doc.get('key')!r}, not {key!r}")
    if not isinstance(doc.get("key"), str):
        raise StateError("no source key")
    try:
        content = base64.b64decode(str(doc["content"]), validate=True)
        fetched_at = _parse_time(doc["fetched_at"])
        generated = _parse_time(doc["generated_time"]) if doc.get("generated_time") else None
    except (KeyError, ValueError, TypeError, binascii.Error) as err:
        raise StateError(f"a field is missing or malformed ({err})") from None
    if fetched_at is None:
        raise StateError("fetched_at is missing")
    if hashlib.sha256(content).hexdigest() != doc.get("sha256"):
        raise StateError("the checksum does not match: the file is corrupt")
    account_id = str(doc.get("account_id") or "")
    facts, owners = None, None
    if doc["version"] >= 2:  # version 1 had neither section
        try:
            facts = None if doc.get("facts") is None else decode_facts(doc["facts"], account_id)
            owners = None if doc.get("owners") is None else decode_owners(doc["owners"])
        except SectionError as err:
            raise StateError(str(err)) from None
    return SavedReport(
        doc["key"],
        content,
        generated,
        fetched_at,
        account_id=account_id,
        name=str(doc.get("name") or ""),
        facts=facts,
        owners=owners,
    )


def read_regular_file(path: Path, limit: int) -> bytes:
    """The content of ``path`` if it is a regular file (not a link to one) of at most
    ``limit`` bytes. Never blocks: a FIFO is opened non-blocking and then refused."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise StateError("it is a symbolic link; only regular files are read") from None
        raise StateError(f"cannot read it: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StateError("not a regular file")
        if info.st_size > limit:
            raise StateError(f"larger than {limit} bytes")
        chunks, left = [], limit + 1  # the file may have grown since fstat
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as err:
        raise StateError(f"cannot read it: {err.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise StateError(f"larger than {limit} bytes")
    return data


def _read_document(path: Path, limit: int) -> dict[str, Any]:
    raw = read_regular_file(path, limit)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise StateError("not valid JSON (truncated or corrupt)") from None
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise StateError("not a state file of this exporter")
    version = data.get("version")
    if isinstance(version, bool) or version not in READ_VERSIONS:
        readable = " and ".join(str(v) for v in READ_VERSIONS)
        raise StateError(f"format version {version!r}, this build reads {readable}")
    return data


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"time without an offset: {value}")
    return when
