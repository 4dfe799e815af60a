"""Safe loading of model files: plain YAML data only, with line numbers for messages.

The text is composed into YAML nodes first; tags other than the plain scalar, sequence
and mapping types, anchors and aliases, merge keys and duplicate keys are refused before
any Python object is built. Only then is it loaded with PyYAML's ``SafeLoader``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from sourced_neuron.common.errors import Diagnostic, ModelError

MAX_BYTES = 1_000_000
MAX_NESTING = 20

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@dataclass
class Locator:
    """Line numbers of the keys and values of a loaded model file.

    Paths are tuples of keys, e.g. ``("parameters", "tau_m")``.
    """

    source: str = "<string>"
    key_lines: dict[tuple, int] = field(default_factory=dict)
    text_lines: dict[tuple, int] = field(default_factory=dict)

    def line(self, *path) -> int | None:
        """1-based line of the key at ``path`` (or of its nearest known parent)."""
        while path:
            if path in self.key_lines:
                return self.key_lines[path]
            path = path[:-1]
        return None

    def text_line(self, path: tuple, offset: int = 0) -> int | None:
        """1-based line of the ``offset``-th line of the string value at ``path``."""
        if path in self.text_lines:
            return self.text_lines[path] + offset
        return self.line(*path)

    def diagnostic(self, message: str, *path, offset: int | None = None) -> Diagnostic:
        """A :class:`Diagnostic` located at ``path`` (and a line offset inside a text block)."""
        line = self.text_line(tuple(path), offset) if offset is not None else self.line(*path)
        return Diagnostic(message, self.source, ".".join(str(p) for p in path), line)


def load(text: str, source: str = "<string>") -> tuple[object, Locator]:
    """Load the YAML text of a model file.

    Returns
    -------
    data, locator
        The plain data (dicts, lists, strings, numbers, booleans, None) and the line map.

    Raises
    ------
    ModelError
        The text is not valid YAML, or uses tags, anchors, merge keys or duplicate keys.
    """
    locator = Locator(source)
    if not isinstance(text, str):
        raise ModelError(Diagnostic(f"model text must be a string, not {type(text).__name__}", source))
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ModelError(Diagnostic(f"model file larger than {MAX_BYTES} bytes", source))
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ModelError(_yaml_diagnostic(exc, source)) from None
    except (ValueError, RecursionError) as exc:  # e.g. surrogate characters, absurd nesting
        raise ModelError(Diagnostic(f"not readable as YAML: {exc}", source)) from None
    if node is None:
        raise ModelError(Diagnostic("the model file is empty", source))
    problems: list[Diagnostic] = []
    _walk(node, (), locator, problems, set(), 0)
    if problems:
        raise ModelError(problems)
    try:
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ModelError(_yaml_diagnostic(exc, source)) from None
    except (ValueError, OverflowError, RecursionError) as exc:
        raise ModelError(Diagnostic(f"not readable as YAML: {exc}", source)) from None
    return data, locator


def _yaml_diagnostic(exc: yaml.YAMLError, source: str) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return Diagnostic(f"invalid YAML: {problem}", source, "", mark.line + 1 if mark else None)


def _walk(node: yaml.Node, path: tuple, locator: Locator, problems: list, seen: set, depth: int) -> None:
    line = node.start_mark.line + 1
    where = ".".join(str(p) for p in path)
    if depth > MAX_NESTING:
        problems.append(Diagnostic(f"nesting deeper than {MAX_NESTING} levels", locator.source, where, line))
        return
    if id(node) in seen:
        problems.append(Diagnostic("YAML anchors and aliases are not allowed", locator.source, where, line))
        return
    seen.add(id(node))
    if node.tag not in _PLAIN_TAGS:
        problems.append(
            Diagnostic(
                f"YAML tag {node.tag!r} is not allowed (model files hold plain strings, numbers, lists and mappings)",
                locator.source,
                where,
                line,
            )
        )
        return
    if isinstance(node, yaml.ScalarNode):
        # a literal or folded block starts on the line after its indicator
        locator.text_lines[path] = line + 1 if node.style in ("|", ">") else line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            locator.key_lines.setdefault((*path, index), item.start_mark.line + 1)
            _walk(item, (*path, index), locator, problems, seen, depth + 1)
    elif isinstance(node, yaml.MappingNode):
        keys: dict = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(Diagnostic("YAML merge keys ('<<') are not allowed", locator.source, where, key_line))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                problems.append(Diagnostic("mapping keys must be plain names", locator.source, where, key_line))
                continue
            key = key_node.value
            if key in keys:
                problems.append(
                    Diagnostic(
                        f"duplicate key {key!r} (first defined on line {keys[key]})",
                        locator.source,
                        ".".join(str(p) for p in (*path, key)),
                        key_line,
                    )
                )
                continue
            keys[key] = key_line
            locator.key_lines[(*path, key)] = key_line
            _walk(value_node, (*path, key), locator, problems, seen, depth + 1)
