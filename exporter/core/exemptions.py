"""Exemptions: accepted risks that suppress findings, with a reason and an expiry."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase, translate
from functools import lru_cache
from itertools import compress
from operator import attrgetter, or_
from typing import Any

from exporter.core.findings import Finding


@dataclass(frozen=True)
class Exemption:
    pattern: str
    by_arn: bool
    checks: frozenset[str] | None
    reason: str
    expires: date | None = None

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def matches(self, finding: Finding) -> bool:
        if self.checks is not None and finding.check not in self.checks:
            return False
        subject = finding.arn if self.by_arn else finding.user
        return fnmatchcase(subject, self.pattern)

    def as_dict(self) -> dict[str, Any]:
        return {
            "arn" if self.by_arn else "user": self.pattern,
            "checks": sorted(self.checks) if self.checks else None,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }

    def describe(self) -> str:
        kind = "arn" if self.by_arn else "user"
        scope = ", ".join(sorted(self.checks)) if self.checks else "all checks"
        until = f", until {self.expires.isoformat()}" if self.expires else ""
        return f"{kind} {self.pattern} ({scope}{until}): {self.reason}"


Matcher = Callable[[str], "re.Match[str] | None"]
_check = attrgetter("check")
_user = attrgetter("user")
_arn = attrgetter("arn")


class ExemptionSet:
    """Several exemptions as one test of findings: does any of them match each?

    Asking each exemption in turn costs findings x exemptions glob matches, and an
    audit has tens of thousands of findings. Here the patterns are regular
    expressions that match any of several globs (``_any_of``), and each distinct
    subject is matched once: first against all the patterns of its kind (user names,
    ARNs) at once, in C (``filter``), which nearly every subject fails, so no further
    work is done for it whatever the number of exemptions or of checks; only the
    findings of a subject that matched are then asked about the exemptions that apply
    to their check."""

    def __init__(self, exemptions: Iterable[Exemption]) -> None:
        self.exemptions = tuple(exemptions)
        self._by_check: dict[str, tuple[Matcher | None, Matcher | None]] = {}
        self._any = (
            _any_of(tuple(e.pattern for e in self.exemptions if not e.by_arn)),
            _any_of(tuple(e.pattern for e in self.exemptions if e.by_arn)),
        )

    def matches(self, finding: Finding) -> bool:
        return self.flags([finding])[0]

    def flags(self, findings: Iterable[Finding]) -> list[bool]:
        """For each finding in order, whether an exemption matches it."""
        found = findings if isinstance(findings, (list, tuple)) else list(findings)
        any_user, any_arn = self._any
        subjects = list(map(_user, found)), list(map(_arn, found))
        users, arns = _matching(any_user, subjects[0]), _matching(any_arn, subjects[1])
        flags = [False] * len(found)
        if not users and not arns:
            return flags
        # The findings of a subject that matched, found in C; then asked one by one.
        maybe = map(or_, map(users.__contains__, subjects[0]), map(arns.__contains__, subjects[1]))
        for i in compress(range(len(found)), maybe):
            f = found[i]
            by_user, by_arn = self._matchers(f.check)
            flags[i] = bool(
                (by_user is not None and by_user(f.user)) or (by_arn is not None and by_arn(f.arn))
            )
        return flags

    def _matchers(self, check: str) -> tuple[Matcher | None, Matcher | None]:
        found = self._by_check.get(check)
        if found is None:
            applies = [e for e in self.exemptions if e.checks is None or check in e.checks]
            found = (
                _any_of(tuple(e.pattern for e in applies if not e.by_arn)),
                _any_of(tuple(e.pattern for e in applies if e.by_arn)),
            )
            self._by_check[check] = found
        return found


def _matching(matcher: Matcher | None, subjects: list[str]) -> set[str]:
    """The distinct subjects that ``matcher`` matches (none without a matcher)."""
    return set() if matcher is None else set(filter(matcher, set(subjects)))


@lru_cache(maxsize=256)
def _any_of(patterns: tuple[str, ...]) -> Matcher | None:
    """A match of any of the glob ``patterns``, or None if there is none.

    Joining the patterns' own translations with ``|`` would make ``re`` try each in
    turn, scanning the subject once per ``*`` of each (50 ARN globs took 160 us per
    ARN). The patterns are instead merged into a trie of their tokens, so that what
    they share (``arn:aws:iam::``, ``*``, ``:user/``) is matched once and they only
    branch where they differ. A union of globs is the same language however its
    common parts are factored, and each token is translated by ``fnmatch`` itself,
    so a subject matches exactly when ``fnmatchcase`` matches one of the patterns.
    Cached: every report of a refresh or an audit has the same exemptions."""
    if not patterns:
        return None
    trie: _Node = {}
    apart: list[str] = []
    for pattern in dict.fromkeys(patterns):
        tokens = _tokens(pattern)
        if tokens.count("*") > MAX_STARS_MERGED:
            # Its translation scans with atomic groups, which a merged trie cannot use
            # (they are only right for one pattern): "*a*a*a*a" would backtrack forever.
            apart.append(translate(pattern))
            continue
        node = trie
        for token in tokens:
            node = node.setdefault(token, {})
        node[_END] = {}
    merged = [_regex(trie)] if trie else []
    return re.compile("|".join(merged + apart), re.DOTALL).match


_Node = dict[str, "_Node"]
# Globs with more stars backtrack too much merged: they are matched on their own.
MAX_STARS_MERGED = 2
_END = ""  # the trie's end of a pattern (no token is empty)


def _tokens(pattern: str) -> list[str]:
    """The glob's tokens as ``fnmatch.translate`` reads them: ``*`` (runs of them
    are one), ``?``, a bracket expression, or one literal character."""
    tokens: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j < n:  # closed: a class; unclosed, "[" is a literal
                c, i = pattern[i - 1 : j + 1], j + 1
        elif c == "*" and tokens and tokens[-1] == "*":
            continue
        tokens.append(c)
    return tokens


def _regex(node: _Node) -> str:
    """The trie below ``node`` as one regular expression anchored at the end."""
    branches = [r"\Z" if token == _END else _token_regex(token) + _regex(child)
                for token, child in node.items()]  # fmt: skip
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


@lru_cache(maxsize=1024)
def _token_regex(token: str) -> str:
    # translate() wraps its result as (?s:...) followed by an end anchor: unwrap it.
    translated = translate(token)
    return translated[len("(?s:") : translated.rindex(")")]
