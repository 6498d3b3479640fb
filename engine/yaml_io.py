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

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from yaml.error import Mark

__all__ = ["MAX_DEPTH", "PURE_RETRY_LIMIT", "SAFE_DUMPER", "SAFE_LOADER", "dump_all", "load"]

_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP = f"{_TAG}str", f"{_TAG}seq", f"{_TAG}map"
_SPECIAL_KEYS = frozenset({f"{_TAG}merge", f"{_TAG}value"})


class _Unusual(Exception):
    """An event the direct construction leaves to PyYAML's own composer and constructor."""


class _RejectedScalar(yaml.constructor.ConstructorError):
    """A scalar its explicit tag cannot read, such as ``!!int twelve``, with its position."""


class _TooDeep(yaml.YAMLError):
    """PyYAML's pure composer and its constructor recurse once per level of nesting."""


_CONSTRUCTOR_FAILURES = (ValueError, KeyError, AttributeError, TypeError)
"""What PyYAML's scalar constructors raise for such a scalar, with no position."""


@contextlib.contextmanager
def _stock_failures() -> Iterator[None]:
    """Where PyYAML's own loaders read: what they raise that is no YAML error, as one (a
    rejected tagged scalar, a document nested a few hundred levels deep), not a crash."""
    try:
        yield
    except _CONSTRUCTOR_FAILURES as error:
        problem = f"a tagged value cannot be read ({type(error).__name__}: {error})"
        raise yaml.constructor.ConstructorError(None, None, problem) from None
    except RecursionError:
        raise _TooDeep("the document is nested too deeply to be read") from None


MAX_DEPTH = 1000
"""Levels of nesting a document may have: the libyaml in PyYAML 6.0.4's wheels refuses deeper
ones, 6.0.3's does not, and every reader after this one recurses per level."""

_OPEN = object()  # an anchored collection still being built: an alias to it is recursive
_NO_KEY = object()  # no key waiting: the mapping's next value is a key


def _build(loader: yaml.CSafeLoader) -> Any:
    """The single document of ``loader``'s stream, built straight from libyaml's events.

    PyYAML composes a node (with two marks) for every value, then its SafeConstructor builds
    each collection through a generator and a second pass, so that recursive documents work:
    for a spec of 100,000 scenarios that is 1.7 s where the events alone take 0.7. This builds
    plain mappings, sequences, scalars and aliases as the stock loader would, resolving each
    plain scalar's tag with the loader's own resolver (once per distinct value). Anything else
    (merge keys, recursive aliases, sets, ordered maps, unhashable keys, unknown tags, a second
    document) raises _Unusual, and the stock loader reads the text again, giving its result or
    its error. Parser errors propagate as they are; a scalar its explicit tag cannot read is
    a _RejectedScalar at its position.
    """
    get: Callable[[], Any] = loader.get_event  # typed loosely: each kind has its own fields
    resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = loader.resolve
    constructors = loader.yaml_constructors
    scalar_tags: dict[str, str] = {}
    anchors: dict[str, Any] = {}
    open_collections: list[tuple[Any, str | None, Any]] = []
    container: Any = None  # the collection being filled; None: the document's top
    anchor: str | None = None  # the anchor of ``container``
    key: Any = _NO_KEY  # in a mapping, the key waiting for its value

    get()  # the stream's start
    if type(get()) is not yaml.DocumentStartEvent:
        return None  # an empty stream
    while True:
        event = get()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            value = event.value
            tag = event.tag
            if tag is None or tag == "!":
                implicit = event.implicit
                if implicit[0]:
                    tag = scalar_tags.get(value)
                    if tag is None:
                        tag = scalar_tags[value] = resolve(yaml.ScalarNode, value, implicit)
                else:
                    tag = resolve(yaml.ScalarNode, value, implicit)
            if tag != _STR:
                construct = constructors.get(tag)
                if construct is None or tag in _SPECIAL_KEYS:
                    raise _Unusual
                try:
                    value = construct(loader, yaml.ScalarNode(tag, value, style=event.style))
                except yaml.YAMLError:
                    raise _Unusual from None  # the stock loader says where
                except _CONSTRUCTOR_FAILURES as error:
                    problem = f"cannot read {value!r} as {tag.removeprefix(_TAG)} ({error})"
                    raise _RejectedScalar(None, None, problem, event.start_mark) from None
            if event.anchor is not None:
                if event.anchor in anchors:
                    raise _Unusual  # a duplicate anchor: the stock loader's error
                anchors[event.anchor] = value
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            mapping = kind is yaml.MappingStartEvent
            if event.tag not in (None, "!", _MAP if mapping else _SEQ):
                raise _Unusual
            if len(open_collections) == MAX_DEPTH:
                problem = f"exceeded maximum nesting depth ({MAX_DEPTH} levels)"
                raise yaml.parser.ParserError(None, None, problem, event.start_mark)
            open_collections.append((container, anchor, key))
            container, anchor, key = ({} if mapping else []), event.anchor, _NO_KEY
            if anchor is not None:
                if anchor in anchors:
                    raise _Unusual
                anchors[anchor] = _OPEN
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            value = container
            if anchor is not None:
                anchors[anchor] = value
            container, anchor, key = open_collections.pop()
        elif kind is yaml.AliasEvent:
            value = anchors.get(event.anchor, _OPEN)
            if value is _OPEN:
                raise _Unusual  # undefined, or recursive
        else:
            raise _Unusual
        if container is None:
            break
        if type(container) is list:
            container.append(value)
        elif key is _NO_KEY:
            if type(value) is list or type(value) is dict:
                raise _Unusual
            key = value
        else:
            container[key] = value
            key = _NO_KEY
    get()  # the document's end
    if type(get()) is not yaml.StreamEndEvent:
        raise _Unusual  # another document: the stock loader's error
    return value


if yaml.__with_libyaml__:

    class _FastSafeLoader(yaml.CSafeLoader):
        """libyaml's parser, and the construction from its events above."""

        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self._text = stream if isinstance(stream, str | bytes) else None

        def get_single_data(self) -> Any:
            if self._text is None:  # a file object: read once, so no second reading
                return super().get_single_data()
            try:
                return _build(self)
            except _Unusual:
                pass
            stock = yaml.CSafeLoader(self._text)
            try:
                with _stock_failures():
                    return stock.get_single_data()
            finally:
                stock.dispose()

    _Dumper: type[yaml.SafeDumper | yaml.CSafeDumper] = yaml.CSafeDumper
    SAFE_LOADER: type[yaml.SafeLoader | yaml.CSafeLoader] = _FastSafeLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper
    SAFE_LOADER = yaml.SafeLoader


class _PlainDumper(_Dumper):  # type: ignore[valid-type,misc]
    """The safe dumper without anchors and aliases: an object met twice is written twice.

    Drover's documents are trees, so they read the same; and PyYAML's bookkeeping for aliases
    (every object remembered by id while it is represented) is a fifth of the time it takes to
    write a spec of 60,000 scenarios.
    """

    def ignore_aliases(self, data: Any) -> bool:
        return True


SAFE_DUMPER: type[yaml.SafeDumper | yaml.CSafeDumper] = _PlainDumper

PURE_RETRY_LIMIT = 1_000_000
"""Characters up to which a rejected document is read again by the pure loader."""


def load(text: str) -> Any:
    """``yaml.safe_load(text)`` with the fast loader; errors read as the pure loader's."""
    loader = SAFE_LOADER
    try:
        with _stock_failures():
            return yaml.load(text, Loader=loader)
    except _RejectedScalar as error:  # the pure loader would only crash on it
        raise _quoting(error, text) from None
    except yaml.YAMLError as error:
        if loader is yaml.SafeLoader:
            raise
        if len(text) > PURE_RETRY_LIMIT and isinstance(error, yaml.MarkedYAMLError):
            raise _quoting(error, text) from None
        fast_error = error
    try:
        with _stock_failures():
            return yaml.load(text, Loader=yaml.SafeLoader)
    except _TooDeep:  # the C loader's own error, then, with its lines quoted
        if isinstance(fast_error, yaml.MarkedYAMLError):
            raise _quoting(fast_error, text) from None
        raise fast_error from None


def _quoting(error: yaml.MarkedYAMLError, text: str) -> yaml.MarkedYAMLError:
    """The C loader's error with each position's line quoted, as the pure loader prints it."""
    for name in ("context_mark", "problem_mark"):
        mark = getattr(error, name)
        if mark is not None:  # libyaml's marks count characters, as Python strings do
            quoted = Mark(mark.name, mark.index, mark.line, mark.column, text, mark.index)
            setattr(error, name, quoted)
    return error


def dump_all(documents: list[Any], **options: Any) -> str:
    """``yaml.safe_dump_all(documents, **options)`` with the fast dumper.

    Documents of plain data (mappings, lists, strings, numbers, booleans, None) go to libyaml's
    emitter as events (:class:`_Events`): the same text without PyYAML's representer and
    serializer, which build a node per value and call back into Python for each (a spec of
    62,000 scenarios: 0.83 s instead of 1.29 s; 0.58 s since each string's event is made once).
    Anything else, or options the events do not cover, take PyYAML's own path.
    """
    if set(options) <= _EVENT_OPTIONS:
        try:
            events = _Events(sort_keys=options.get("sort_keys", True))
            stream = events.stream(documents, explicit_start=options.get("explicit_start"))
        except _Unusual:
            pass
        else:
            emitter = {k: v for k, v in options.items() if k in _EMITTER_OPTIONS}
            emitted: str = yaml.emit(stream, Dumper=SAFE_DUMPER, **emitter)
            return emitted
    text: str = yaml.dump_all(documents, Dumper=SAFE_DUMPER, **options)
    return text


_EMITTER_OPTIONS = frozenset({"allow_unicode", "width", "indent", "line_break"})
_EVENT_OPTIONS = _EMITTER_OPTIONS | {"sort_keys", "explicit_start"}
_PLAIN_SCALARS = (str, bool, int, float, type(None))


class _Events:
    """The events PyYAML's safe representer and serializer produce for plain data, in block
    style (``default_flow_style=False``), without anchors (see :class:`_PlainDumper`): a scalar
    is written plain where it would read back as what it is, as the serializer decides it.

    Representers registered on the safe dumper are honoured: Hera, once imported, writes
    multi-line strings as literal blocks and quotes ``y``/``n`` for YAML 1.1 readers (kubectl,
    Argo), so a string goes through the registered representer unless it is PyYAML's own, and
    a mapping or list another representer would write takes PyYAML's path.
    """

    def __init__(self, *, sort_keys: bool) -> None:
        self.sort_keys = sort_keys
        self.resolver: Any = yaml.resolver.Resolver()  # its resolve() is untyped
        self.representer = yaml.representer.SafeRepresenter()
        self.representers = SAFE_DUMPER.yaml_representers
        stock = yaml.representer.SafeRepresenter
        if (self.representers.get(dict), self.representers.get(list)) != (
            stock.represent_dict,
            stock.represent_list,
        ):
            raise _Unusual
        self.plain_strings = self.representers.get(str) is stock.represent_str
        # A string's event, by the string: keys repeat in every item of a long list (a spec's
        # 62,000 scenarios each name id, name and location), and so do many values.
        self.string_events: dict[str, Any] = {}

    def stream(self, documents: list[Any], *, explicit_start: bool | None) -> list[Any]:
        events: list[Any] = [yaml.StreamStartEvent()]
        for document in documents:
            events.append(yaml.DocumentStartEvent(explicit=explicit_start))
            self._value(document, events)
            events.append(yaml.DocumentEndEvent(explicit=False))
        events.append(yaml.StreamEndEvent())
        return events

    def _value(self, value: Any, events: list[Any]) -> None:
        kind = type(value)
        if kind is dict:
            events.append(yaml.MappingStartEvent(None, None, True, flow_style=False))
            items = list(value.items())
            if self.sort_keys:
                with contextlib.suppress(TypeError):  # as PyYAML: unsortable keys keep order
                    items = sorted(items)
            for key, item in items:
                self._value(key, events)
                self._value(item, events)
            events.append(yaml.MappingEndEvent())
        elif kind is list:
            events.append(yaml.SequenceStartEvent(None, None, True, flow_style=False))
            for item in value:
                self._value(item, events)
            events.append(yaml.SequenceEndEvent())
        elif kind is str:
            event = self.string_events.get(value)
            if event is None:
                event = self.string_events[value] = self._scalar(value)
            events.append(event)
        elif kind in _PLAIN_SCALARS:
            events.append(self._scalar(value))
        else:
            raise _Unusual

    def _scalar(self, value: Any) -> Any:
        style = None
        if type(value) is str and self.plain_strings:
            tag, text = _STR, value
        else:
            node = self.representers[type(value)](self.representer, value)
            if type(node) is not yaml.ScalarNode:
                raise _Unusual
            tag, text, style = node.tag, node.value, node.style
        plain = self.resolver.resolve(yaml.ScalarNode, text, (True, False)) == tag
        quoted = self.resolver.resolve(yaml.ScalarNode, text, (False, True)) == tag
        return yaml.ScalarEvent(None, tag, (plain, quoted), text, style=style)


def dump(document: Any, **options: Any) -> str:
    """``yaml.safe_dump(document, **options)`` with the fast dumper."""
    return dump_all([document], **options)
