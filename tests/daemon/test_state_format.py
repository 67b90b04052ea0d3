"""The state file format: version 2's facts and owners, validated field by field, and the
files of version 1 (written before they existed) still restored."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from exporter.config import Config, config_from_dict
from exporter.core.records import AccountFacts
from exporter.daemon.exposition import ExpositionOptions
from exporter.daemon.persistence import StatePersistence
from exporter.daemon.state_details import SavedOwners
from exporter.daemon.state_store import READ_VERSIONS, STATE_VERSION, SavedReport, StateStore
from exporter.sources.demo import DEMO_MEMBER
from tests.support.exporter_process import REPO, parse_samples, sample_value
from tests.support.sample_reports import sample_report

WHEN = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
A = "111111111111"
# Written by StatePersistence.save before version 2 (the demo's centrally managed member,
# with --labels.owner-tag team): the report alone.
VERSION_1 = REPO / "tests" / "fixtures" / "state" / "version-1-member.json"
FACTS = AccountFacts(
    A,
    root_mfa_enabled=False,
    root_virtual_mfa=False,
    summary=MappingProxyType({"AccountPasswordPresent": 0, "AccountAccessKeysPresent": 0}),
    org_root_management=True,
)
OWNERS = SavedOwners(("team", "owner"), MappingProxyType({"alice": "payments", "bob": "payments",
                                                          "carol": "data"}))  # fmt: skip


def saved(**kw: Any) -> SavedReport:
    return SavedReport(A, sample_report(2, A), WHEN, WHEN, A, "prod", **kw)


def test_facts_and_owners_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved(facts=FACTS, owners=OWNERS))
    assert store.load_report(A) == saved(facts=FACTS, owners=OWNERS)
    doc = json.loads(store.path_for(A).read_text())
    assert doc["version"] == STATE_VERSION == 2 and READ_VERSIONS == (1, 2)
    # Grouped by owner: a team is written once, whatever its number of users.
    assert doc["owners"] == {
        "tags": ["team", "owner"],
        "users_by_owner": {"data": ["carol"], "payments": ["alice", "bob"]},
    }
    store.save_report(saved())
    doc = json.loads(store.path_for(A).read_text())
    assert "facts" not in doc and "owners" not in doc
    assert store.load_report(A) == saved()


def _facts(**changes: Any) -> dict[str, Any]:
    good: dict[str, Any] = {
        "account_id": A, "root_mfa_enabled": False, "root_virtual_mfa": False,
        "summary": {"AccountPasswordPresent": 0}, "partition": "aws", "org_root_management": True,
    }  # fmt: skip
    return {**good, **changes}


def _owners(**changes: Any) -> dict[str, Any]:
    return {**{"tags": ["team"], "users_by_owner": {"payments": ["alice"]}}, **changes}


@pytest.mark.parametrize(
    ("section", "value", "problem"),
    [
        ("facts", [], "facts: not an object"),
        ("facts", _facts(summary={"AccountPasswordPresent": "0"}), "facts.summary"),
        ("facts", _facts(summary={"AccountPasswordPresent": True}), "facts.summary"),
        ("facts", _facts(summary=None), "facts.summary"),
        ("facts", _facts(root_mfa_enabled="false"), "facts.root_mfa_enabled"),
        ("facts", _facts(partition=""), "facts.partition"),
        ("facts", _facts(org_root_management="yes"), "facts.org_root_management"),
        ("facts", _facts(account_id="222222222222"), "of account '222222222222'"),
        ("owners", "team", "owners: not an object"),
        ("owners", _owners(tags=[]), "owners.tags"),
        ("owners", _owners(tags=["team", 3]), "owners.tags"),
        ("owners", _owners(users_by_owner=[]), "owners.users_by_owner"),
        ("owners", _owners(users_by_owner={"": ["alice"]}), "owners.users_by_owner"),
        ("owners", _owners(users_by_owner={"a": "alice"}), "owners.users_by_owner"),
        ("owners", _owners(users_by_owner={"a": ["x"], "b": ["x"]}), "'x' has two owners"),
    ],
)
def test_malformed_sections_are_logged_in_one_line_and_the_file_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, section: str, value: Any, problem: str
) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved(facts=FACTS, owners=OWNERS))
    path = store.path_for(A)
    doc = json.loads(path.read_text())
    doc[section] = value
    path.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="exporter.state"):
        assert store.load_all() == {}
        persistence = StatePersistence(store, Config(), ExpositionOptions())
        assert persistence.restore(WHEN) is None
    (message, *_) = [r.getMessage() for r in caplog.records]
    assert problem in message and "\n" not in message and "Traceback" not in caplog.text
    assert message.startswith(f"ignoring state file {path}: ")


@pytest.mark.parametrize("version", [0, 3, True, "2", None, [2]])
def test_other_versions_are_refused_naming_the_ones_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, version: Any
) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved(facts=FACTS))
    path = store.path_for(A)
    doc = json.loads(path.read_text())
    doc["version"] = version
    path.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="exporter.state"):
        assert store.load_all() == {}
    assert f"format version {version!r}, this build reads 1 and 2" in caplog.text


def test_a_truncated_version_2_file_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path)
    store.save_report(saved(facts=FACTS, owners=OWNERS))
    path = store.path_for(A)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the owners cut off
    with caplog.at_level(logging.WARNING, logger="exporter.state"):
        assert store.load_all() == {}
    assert "not valid JSON (truncated or corrupt)" in caplog.text


def test_sections_in_a_version_1_file_are_not_read(tmp_path: Path) -> None:
    """Version 1 had no sections: what a file of it holds beside the report is not
    this format's, whatever it looks like."""
    store = StateStore(tmp_path)
    store.save_report(saved(facts=FACTS, owners=OWNERS))
    path = store.path_for(A)
    doc = json.loads(path.read_text())
    doc["version"] = 1
    path.write_text(json.dumps(doc))
    assert store.load_report(A) == saved()


def test_a_version_1_file_written_before_the_sections_is_restored(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    key = DEMO_MEMBER.account_id
    shutil.copy(VERSION_1, store.path_for(key))
    assert json.loads(VERSION_1.read_text())["version"] == 1  # the premise
    (found,) = store.load_all().values()
    assert found.account_id == key and found.facts is None and found.owners is None
    config = config_from_dict({"flags": {"labels.owner-tag": ["team"]}})
    restored = StatePersistence(store, config, ExpositionOptions()).restore(
        WHEN + timedelta(hours=1)
    )
    assert restored is not None
    (state,) = restored.accounts
    assert state.name == "demo-member" and state.last_success == WHEN
    samples = parse_samples(restored.exposition.text.decode())
    assert sample_value(samples, "aws_iam_users", account_id=key) == 2
    # Without facts the root cannot be told managed: as before version 2, until the
    # first refresh (tests/daemon/test_state_details.py restores version 2 files).
    assert state.details.root_centrally_managed is None
    assert sample_value(samples, "aws_iam_findings", account_id=key,
                        check="root_mfa_disabled", severity="critical") == 1  # fmt: skip
    assert dict(state.details.owners) == {}
