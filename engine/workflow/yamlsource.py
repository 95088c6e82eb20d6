"""YAML loading that remembers where each value came from, for errors a person can act on."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused: where, and why (in Chinese, for the person who wrote it)."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class SourceMap:
    """Maps a path into the loaded data (keys and list indexes) to its line in the file."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, path: Sequence[Any]) -> int:
        """The 1-based line of the value at ``path``, or of its nearest existing parent."""
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for step in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == step:
                        child, line = value, key.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                child = node.value[step]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line


class YamlSyntaxError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


#: An alias repeats what its anchor names: a few are handy, nested ones multiply (an alias bomb).
MAX_ALIASES = 50
MAX_NODES = 200_000  # values in the document with every alias written out
MAX_DEPTH = 100


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that refuses more aliases, nesting or (expanded) values than a plan needs."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(self.peek_event().start_mark, f"别名（*引用）超过 {MAX_ALIASES} 个")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark, f"嵌套超过 {MAX_DEPTH} 层")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Refused(Exception):
    def __init__(self, mark, reason: str) -> None:
        super().__init__(reason)
        self.mark, self.reason = mark, reason


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once every alias is written out (each shared node counted once per use)."""
    sizes: dict[int, int] = {}
    order, stack = [], [root]
    while stack:  # children before parents, without recursion
        node = stack.pop()
        if id(node) in sizes:
            continue
        sizes[id(node)] = 0
        order.append(node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(v for pair in node.value for v in pair)
    for node in reversed(order):
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode) else []
        sizes[id(node)] = min(MAX_NODES + 1, 1 + sum(sizes[id(c)] for c in children))
    return sizes[id(root)]


def load(text: str, filename: str) -> tuple[Any, SourceMap]:
    """Parse ``text`` safely (no tags that build objects) and return the data with its source map.

    Aliases, nesting and the expanded size are bounded (:data:`MAX_ALIASES`, :data:`MAX_DEPTH`,
    :data:`MAX_NODES`): a file over them is refused before any value is built.
    """
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None and _expanded_size(root) > MAX_NODES:
            raise _Refused(root.start_mark, f"展开后的内容超过 {MAX_NODES} 个值")
        data = loader.construct_document(root) if root is not None else None
    except _Refused as exc:
        raise YamlSyntaxError(Problem(filename, exc.mark.line + 1, f"YAML 文件被拒绝：{exc.reason}")) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(Problem(filename, line, f"YAML 语法错误：{exc.problem}")) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(Problem(filename, 1, f"YAML 语法错误：{exc}")) from exc
    finally:
        loader.dispose()
    return data, SourceMap(root)
