"""YAML through libyaml's C parser and emitter when PyYAML was built with it.

The C loader reads a large spec several times faster than the pure-Python one (a 5 MB spec
with 54,000 scenarios: 8 s instead of 31 s), and the C dumper writes compiled documents
about twenty times faster. Both give the same data; only their error messages differ. A
document the C loader rejects is therefore read again with the pure loader, whose message
(with the offending line quoted) is the one users have always seen, or whose result is used
if it accepts the document. The pure loader stops at its first error, so that second read
costs what the only read used to — except in a very large document, where it could take
half a minute: there the C loader's own error is given, with the lines quoted the same way.

Without libyaml (``yaml.__with_libyaml__`` false) everything runs on the pure classes.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.error import Mark

__all__ = ["PURE_RETRY_LIMIT", "SAFE_DUMPER", "SAFE_LOADER", "dump_all", "load"]

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SAFE_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

PURE_RETRY_LIMIT = 1_000_000
"""Characters up to which a rejected document is read again by the pure loader."""


def load(text: str) -> Any:
    """``yaml.safe_load(text)`` with the fast loader; errors read as the pure loader's."""
    loader = SAFE_LOADER
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        if loader is yaml.SafeLoader:
            raise
        if len(text) > PURE_RETRY_LIMIT and isinstance(error, yaml.MarkedYAMLError):
            raise _quoting(error, text) from None
    return yaml.load(text, Loader=yaml.SafeLoader)


def _quoting(error: yaml.MarkedYAMLError, text: str) -> yaml.MarkedYAMLError:
    """The C loader's error with each position's line quoted, as the pure loader prints it."""
    for name in ("context_mark", "problem_mark"):
        mark = getattr(error, name)
        if mark is not None:  # libyaml's marks count characters, as Python strings do
            quoted = Mark(mark.name, mark.index, mark.line, mark.column, text, mark.index)
            setattr(error, name, quoted)
    return error


def dump_all(documents: list[Any], **options: Any) -> str:
    """``yaml.safe_dump_all(documents, **options)`` with the fast dumper."""
    text: str = yaml.dump_all(documents, Dumper=SAFE_DUMPER, **options)
    return text
