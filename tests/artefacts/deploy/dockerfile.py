"""A small reader of Dockerfiles and .dockerignore files, enough for the offline checks."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    rest: str
    stage: int  # index of the FROM it belongs to (0 = first stage)

    def exec_form(self) -> list[str] | None:
        """The JSON array form (`CMD ["a", "b"]`), or None for the shell form."""
        text = self.rest
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1] if " CMD " in text else ""
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, list) else None

    def pairs(self) -> dict[str, str]:
        """KEY=VALUE pairs of ENV, LABEL and ARG, quotes removed."""
        return dict(p.split("=", 1) for p in shlex.split(self.rest) if "=" in p)

    def flags(self) -> dict[str, str]:
        """Leading --name=value options (COPY --from=build, HEALTHCHECK --interval=30s)."""
        return dict(re.findall(r"--([\w-]+)=(\S+)", self.rest.split(" CMD ", 1)[0]))


def instructions(path: Path) -> list[Instruction]:
    logical: list[str] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    out: list[Instruction] = []
    stage = -1
    for text in logical:
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, " ".join(rest.split()), max(stage, 0)))
    return out


def copy_sources(instruction: Instruction) -> list[str]:
    """Source paths of a COPY from the build context (none for COPY --from=...)."""
    if "from" in instruction.flags():
        return []
    words = [w for w in instruction.rest.split() if not w.startswith("--")]
    return words[:-1]


class DockerIgnore:
    """.dockerignore matching as Docker does it: later lines win, `!` re-includes,
    and a pattern that matches a directory also matches everything below it."""

    def __init__(self, path: Path) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keep = line.startswith("!")
            pattern = line.lstrip("!").strip("/")
            self.rules.append((keep, re.compile(_translate(pattern))))

    def excluded(self, relative: str) -> bool:
        parts = relative.strip("/").split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        result = False
        for keep, regex in self.rules:
            if any(regex.fullmatch(p) for p in prefixes):
                result = not keep
        return result


def _translate(pattern: str) -> str:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return out
