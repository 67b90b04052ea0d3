"""The one YAML loader of the exporter's files: the config file and the web config file.

``yaml.safe_load`` constructs no objects, but it trusts the document's shape:

* a few hundred bytes of aliases of aliases ("billion laughs") expand to a
  billion values as soon as anything walks or prints them;
* 20,000 nested ``[`` exhaust the composer's recursion (``RecursionError``);
* a duplicate key silently wins over the first (a second, empty
  ``basic_auth_users:`` would switch basic auth off);
* an integer literal of megabytes (or a sexagesimal ``1:2:3:...``) takes
  quadratic time to build;
* an impossible date (``2027-02-30``) raises a bare ``ValueError``.

This loader refuses all of those while composing, before any of it is built,
with a one-line ``ConfigError`` that names the key path and the line. Anchors,
aliases and merge keys (``<<: *base``) stay usable within ``MAX_VALUES``.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from exporter.config.errors import EXCERPT_CHARS, ConfigError, key_name

# Nesting levels of collections; the exporter's files need 6 at most.
MAX_DEPTH = 32
# Values (scalars and collections) of the document, every alias counted at each
# use: about 100 bytes of config each, so far beyond any real file, and small
# enough that walking all of them stays well under a second.
MAX_VALUES = 200_000
# Characters of an integer literal: a 12-digit account id quoted or not, a port.
MAX_INT_CHARS = 40
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PATH_CHARS = 200
_LONG_WORD = re.compile(rf"\S{{{EXCERPT_CHARS + 1},}}")


class YAMLSyntaxError(ConfigError):
    """The text is not YAML at all; the message is PyYAML's, on one line, with the position."""


def load_yaml(text: str) -> Any:
    """The single document in ``text`` (None when empty), or ConfigError on one line."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as err:
        raise YAMLSyntaxError(yaml_problem(err)) from None
    finally:
        loader.dispose()


def yaml_problem(err: yaml.YAMLError) -> str:
    """PyYAML's message on one bounded line: what is wrong, and where."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        what = " ".join(p for p in (err.context, err.problem) if p) or "syntax error"
        what = _one_line(what)
        return f"{what} ({_position(mark)})" if mark is not None else what
    return _one_line(str(err))


def _one_line(text: str) -> str:
    # PyYAML quotes what it found (a tag, an anchor, a character): cut each long word.
    text = _LONG_WORD.sub(lambda m: m.group()[: EXCERPT_CHARS - 1] + "…", " ".join(text.split()))
    return _bounded(text, 3 * EXCERPT_CHARS)


class _Loader(yaml.SafeLoader):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._path: list[str] = []  # the key path of the node being composed
        self._size: dict[Node, int] = {}  # finished nodes -> values once expanded

    # -- composing: every limit is checked here, before anything is constructed ------

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._path.append(_segment(parent, index))
        try:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.AliasEvent):
                target = self.anchors.get(event.anchor)
                if target is None:
                    self._fail(f"alias *{key_name(event.anchor)} is not defined", event.start_mark)
                if target not in self._size:
                    self._fail(f"alias *{key_name(event.anchor)} refers to a node that contains it",
                               event.start_mark)  # fmt: skip
                return super().compose_node(parent, index)
            collection = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
            # Every level counts, complex keys (``? [...]``) too: each is a recursion.
            if collection and len(self._path) > MAX_DEPTH:
                self._fail(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            node = super().compose_node(parent, index)
            if node is not None:
                self._finish(node)
            return node
        finally:
            self._path.pop()

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], Node] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                self._path.append(_segment(node, key))
                self._fail(
                    f"duplicate key (lines {_line(first)} and {_line(key)}); "
                    "a later value would silently replace the first",
                    key.start_mark,
                )
        return node

    def _finish(self, node: Node) -> None:
        if isinstance(node, ScalarNode):
            if node.tag == _INT_TAG and len(node.value) > MAX_INT_CHARS:
                self._fail(f"number too long (more than {MAX_INT_CHARS} characters)",
                           node.start_mark)  # fmt: skip
            size = 1
        elif isinstance(node, SequenceNode):
            size = 1 + sum(self._size[item] for item in node.value)
        else:
            size = 1 + sum(self._size[k] + self._size[v] for k, v in node.value)
        if size > MAX_VALUES:
            self._fail(f"more than {MAX_VALUES} values once aliases are expanded", node.start_mark)
        self._size[node] = size

    def _fail(self, problem: str, mark: Any) -> NoReturn:
        where = f" ({_position(mark)})" if mark is not None else ""
        raise ConfigError(f"{_render(self._path)}: {problem}{where}")

    # -- constructing -------------------------------------------------------------

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            # 2027-02-30 matches YAML's date pattern but is no date: keep the text, so
            # that the key's own validation names the key and says what it expects.
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _segment(parent: Node | None, index: Any) -> str:
    """How the node at ``index`` of ``parent`` appears in a key path."""
    if parent is None:
        return ""
    if isinstance(parent, SequenceNode):
        return f"[{index}]"
    if isinstance(index, ScalarNode):
        return "." + key_name(index.value)
    return "?"  # a mapping key itself, or a complex key: not part of the path


def _render(path: list[str]) -> str:
    text = "".join(s for s in path if s != "?").lstrip(".")
    return _bounded(text, _PATH_CHARS) or "the document"


def _position(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
