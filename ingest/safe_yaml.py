"""YAML for delivered files (codebooks): bounded, aliases counted as written out.

PyYAML's ``safe_load`` builds only plain types, but it expands anchors and aliases: a 2 KB file of
nested aliases ("billion laughs") is a graph that becomes gigabytes as soon as code walks or copies
it (3.9 GB and 92 s for one codebook; one level deeper, a MemoryError). Codebooks do use aliases
for a code map shared by several items (``codes: &sat {...}`` then ``codes: *sat``), so they are
allowed, but every node is counted with its aliases written out: a document whose expansion has
more nodes, or nests deeper, than ingest/config/limits.yml allows (`codebook`) is refused at the
node where it crosses the limit, before anything walks it. The text is read with a bound on its
size first. One composition gives both the document and its node tree (for the lines of keys).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ingest.errors import OverLimit


class _Refusal(Exception):
    def __init__(self, problem: str, line: int | None, key: str):
        self.problem, self.line, self.key = problem, line, key


class BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that counts each node with its aliases expanded, and stops past a number of
    nodes or a depth (both of the expanded document)."""

    max_depth = 12
    max_nodes = 50_000

    def __init__(self, stream):
        super().__init__(stream)
        self._size: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, expanded depth)
        self._keep: list = []  # the nodes measured (ids stay unique while they live)
        self._open = 0

    def _measure(self, node, line: int):
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        sizes = [self._size[id(c)] for c in children]
        nodes = 1 + sum(n for n, _ in sizes)
        depth = 1 + max((d for _, d in sizes), default=0)
        if nodes > self.max_nodes:
            raise _Refusal(f"the codebook written out (every alias expanded) has more than {self.max_nodes} "
                           f"nodes: the value starting here alone has {nodes}", line, "max_nodes")
        if self._open + depth > self.max_depth:
            raise _Refusal(f"the codebook nests deeper than {self.max_depth} levels (aliases expanded)", line,
                           "max_depth")
        self._size[id(node)] = (nodes, depth)
        self._keep.append(node)

    def compose_node(self, parent, index):
        line = self.peek_event().start_mark.line + 1
        self._open += 1
        try:
            if self._open > self.max_depth:
                raise _Refusal(f"the codebook nests deeper than {self.max_depth} levels", line, "max_depth")
            node = super().compose_node(parent, index)
        finally:
            self._open -= 1
        if id(node) not in self._size:  # an alias returns a node measured already
            self._measure(node, line)
        elif self._open + self._size[id(node)][1] > self.max_depth:
            raise _Refusal(f"the codebook nests deeper than {self.max_depth} levels (aliases expanded)", line,
                           "max_depth")
        return node


def read_bounded_text(path: Path, max_bytes: int) -> str:
    """A delivered text file, refused without being read if it is bigger than `max_bytes`."""
    path = Path(path)
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OverLimit(path, f"the codebook's size in bytes: more than {max_bytes} (ingest/config/limits.yml, "
                        "codebook.max_bytes); it was not parsed")
    return data.decode("utf-8")  # UnicodeDecodeError: the caller says "a codebook must be UTF-8 text"


def compose_bounded(text: str, path: Path, *, max_depth: int, max_nodes: int):
    """(document, node tree) of one YAML document, or OverLimit naming the line and the limit. The
    bounds are the caller's (a codebook: ingest/config/limits.yml `codebook`, read by ingest/limits.py)."""
    loader = BoundedLoader(text)
    loader.max_depth = max_depth
    loader.max_nodes = max_nodes
    try:
        node = loader.get_single_node()
        doc = loader.construct_document(node) if node is not None else None
    except _Refusal as r:
        raise OverLimit(path, f"{r.problem} (ingest/config/limits.yml, codebook.{r.key}); the codebook was not "
                        "read further", row=r.line, row_word="line") from None
    finally:
        loader.dispose()
    return doc, node


def load_trusted_yaml(path: Path) -> dict:
    """Our own versioned YAML files (limits, layouts): the same loader, with generous bounds."""
    text = Path(path).read_text(encoding="utf-8")
    doc, _ = compose_bounded(text, Path(path), max_depth=50, max_nodes=1_000_000)
    return doc
