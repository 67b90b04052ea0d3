"""Bad input everywhere: malformed HTTP requests, bad flags, bad report files.
Each gets a clear answer (4xx or a one-line error, exit 2) and nothing crashes."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.aws_exporter import errors, success, wait_samples
from tests.support.exporter_process import REPO, ExporterProcess, exporter_process, sample_value

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exp() -> Iterator[ExporterProcess]:
    with exporter_process("--demo") as e:
        yield e


def raw(exp: ExporterProcess, data: bytes) -> bytes:
    """Send raw bytes, return everything the server answers before closing."""
    with socket.create_connection(("127.0.0.1", exp.port), timeout=15) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1."), answer[:100]
    return int(answer.split(b" ", 2)[1])


CASES = [
    ("unknown path", b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    ("path traversal", b"GET /-/healthy/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    ("POST", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
    ("DELETE", b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    ("odd method", b"BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    ("huge header", b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    ("many headers", b"GET /metrics HTTP/1.1\r\n" + b"X-H: 1\r\n" * 150 + b"\r\n", 431),
    ("huge request line", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    ("malformed request line", b"GARBAGE\r\n\r\n", 400),
    ("too many words", b"GET / HTTP/1.1 extra\r\n\r\n", 400),
    ("bad version", b"GET / HTTP/x.y\r\n\r\n", 400),
    ("future version", b"GET / HTTP/3.0\r\n\r\n", 505),
    ("HTTP/0.9 explicit", b"GET / HTTP/0.9\r\n\r\n", 505),
    ("HTTP/0.9 simple request", b"GET /metrics\r\n\r\n", 505),
    ("binary junk", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)), 400),
]


@pytest.mark.parametrize(("request_bytes", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_malformed_requests_get_a_4xx_and_the_server_survives(
    exp: ExporterProcess, request_bytes: bytes, expected: int
) -> None:
    assert status_of(raw(exp, request_bytes)) == expected
    assert exp.get("/-/healthy")[0] == 200


def test_a_client_that_connects_and_leaves_does_no_harm(exp: ExporterProcess) -> None:
    assert raw(exp, b"") == b""
    assert exp.get("/-/healthy")[0] == 200


_token = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=12)
_requests = st.builds(
    lambda method, path, version, headers: (
        f"{method} {path} {version}\r\n".encode("latin-1", "replace")
        + b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in headers)
        + b"\r\n"
    ),
    st.sampled_from(["GET", "HEAD", "POST", "OPTIONS", "PATCH", "get", "G\x00T"]) | _token,
    st.sampled_from(["/", "/metrics", "/-/ready", "/%00", "*", "//", "/metrics?x=%ff"]) | _token,
    st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/0.9", "HTTP/2", ""]) | _token,
    st.lists(st.tuples(_token, st.text(max_size=20)), max_size=4),
) | st.binary(max_size=200)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request_bytes=_requests)
def test_fuzzed_requests_never_get_a_5xx_or_break_the_server(
    exp: ExporterProcess, request_bytes: bytes
) -> None:
    answer = raw(exp, request_bytes)
    if answer:  # an empty request may be closed without an answer
        assert status_of(answer) < 500 or status_of(answer) in (503, 505)
    assert exp.proc.poll() is None


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", "serve", "--web.listen-address", "127.0.0.1:0", *args],
        check=False, capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--labels.user", "email"], "must be one of name, hash, none"),
     (["--demo", "--labels.user", "hash"], "needs a key of at least 16 bytes"),
     (["--demo", "--labels.user", "hash", "--labels.user-hash-key-file", "/no/key"],
      "cannot read /no/key"),
     (["--demo", "--state.dir", "/proc/self/nope"], "--state.dir: cannot create"),
     (["--demo", "--web.config.file", "/no/web.yml"], "cannot read web config file /no/web.yml"),
     (["--aws.max-attempts", "0"], "must be at least 1"),
     (["--aws.read-timeout", "fast"], "not a duration: 'fast'"),
     (["--aws.poll-deadline", "0s"], "must be at least 1s")],
)  # fmt: skip
def test_bad_flags_stop_with_a_one_line_error(args: list[str], message: str) -> None:
    out = serve(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_flag_in_the_config_file_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("flags:\n  labels.user: everyone\n")
    out = serve("--demo", "--config", str(config))
    assert out.returncode == 2
    assert "flags.labels.user" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"\x00\x01\x02 not a report", "invalid_report"),
     (b"user,arn\nalice,arn:aws:iam::111111111111:user/alice\n", "invalid_report"),
     (None, "file_error")],
)  # fmt: skip
def test_bad_report_files_are_a_failed_refresh_not_a_crash(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    report = tmp_path / "report.csv"
    if content is not None:
        report.write_bytes(content)
    with exporter_process("--report-file", str(report), "--refresh.interval", "1s") as e:
        # Never read, so its account is unknown: no series of its own, a pending source.
        s = wait_samples(
            e,
            lambda s: sample_value(s, "aws_iam_exporter_pending_sources", reason=reason) == 1,
            what=f"a pending source with reason {reason}",
        )
        assert success(s, str(report)) is None and errors(s, reason, str(report)) == 0
        assert e.get("/-/healthy")[0] == 200 and e.get("/-/ready")[0] == 200
        page = e.get("/")[2].decode()
        assert str(report) in page and f"{reason} (" in page
