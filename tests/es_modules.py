"""What an ES module imports and exports, read from its source: enough to follow a page's module graph.

Covers the forms the web app and the vendored graphql-ws client use: `import {a, b as c} from "x"`,
`import x from "x"`, `import * as x from "x"`, `import "x"`, `export {a as b} from "x"`,
`export * from "x"`, `export {a, b as c}`, and `export function|class|const|let|var|async function name`.
"""

import re
from dataclasses import dataclass, field

_STRING = r"""(?P<quote>["'])(?P<specifier>[^"'\n]+)(?P=quote)"""
# `import ... from "x"`, `export ... from "x"` and the bare `import "x"`, each at the start of a statement.
_FROM = re.compile(rf"(?m)^\s*(?P<keyword>import|export)\s+(?P<clause>[^;\"']*?)\s*from\s*{_STRING}\s*;?")
_BARE = re.compile(rf"(?m)^\s*import\s*{_STRING}\s*;?")
_DYNAMIC = re.compile(rf"\bimport\(\s*{_STRING}\s*\)")
_DECLARED = re.compile(r"(?m)^\s*export\s+(?:async\s+)?(?:function\*?|class|const|let|var)\s+(?P<name>[\w$]+)")
_LIST = re.compile(r"(?m)^\s*export\s*\{(?P<names>[^}]*)\}\s*(?:;|$)")


@dataclass
class Module:
    imports: dict[str, set[str]] = field(default_factory=dict)  # specifier -> names it must export
    exports: set[str] = field(default_factory=set)


def _names(clause: str, *, exported: bool) -> set[str]:
    """The names a clause takes from its module: `{a, b as c}` -> {a, b}; `x` -> {default}; `* as x` -> none."""
    names = set()
    listed = re.search(r"\{([^}]*)\}", clause)
    if listed:
        for item in filter(None, (part.strip() for part in listed.group(1).split(","))):
            names.add(item.split(" as ")[0].strip())
    rest = re.sub(r"\{[^}]*\}", "", clause).strip(" ,")
    if rest and not rest.startswith("*") and not exported:
        names.add("default")
    return names


def read(source: str) -> Module:
    module = Module()
    for match in _FROM.finditer(source):
        exported = match["keyword"] == "export"
        module.imports.setdefault(match["specifier"], set()).update(_names(match["clause"], exported=exported))
        if exported:
            listed = re.search(r"\{([^}]*)\}", match["clause"])
            items = filter(None, (part.strip() for part in listed.group(1).split(","))) if listed else []
            module.exports.update(item.split(" as ")[-1].strip() for item in items)
    for pattern in (_BARE, _DYNAMIC):
        for match in pattern.finditer(source):
            module.imports.setdefault(match["specifier"], set())
    module.exports.update(match["name"] for match in _DECLARED.finditer(source))
    for match in _LIST.finditer(source):
        items = filter(None, (part.strip() for part in match["names"].split(",")))
        module.exports.update(item.split(" as ")[-1].strip() for item in items)
    return module
