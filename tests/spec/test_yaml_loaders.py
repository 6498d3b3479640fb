"""The fast YAML loader (libyaml's parser, a direct construction) and the C dumper against
PyYAML's pure ones: same data, same errors, same text."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import yaml_io
from engine.cli.compile import OutputFormat, dump_documents
from engine.cli.spec_file import load_any_or_exit
from engine.compiler import compile_plan
from engine.errors import SpecError
from engine.loading import load_execution, read_document
from engine.planning import plan_execution

needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))

SCALARS = """\
name: scalars
ints: [1, -2, 0x1f, 0o17, 1_000]
floats: [1.5, -0.25, 1e3, 6.02e+23, .inf, -.Inf, .nan]
bools: [true, False, yes, no, on, off]
nulls: [null, ~, ]
strings: ['1', "two", plain text, 2026-01-02x, "multi\\nline"]
dates: [2026-01-02, 2026-01-02T03:04:05Z]
base: &base {threads: 2, strategy: duration}
merged: {<<: *base, threads: 4}
alias: *base
block: |
  line one
  line two
folded: >
  one
  two
"""

SHAPES = {
    "plain": "a: {b: [1, 2.5, x, null, true]}\nc: [d, {e: f}]\n",
    "shared alias": "base: &b [1, 2]\nagain: *b\n",
    "merge keys": SCALARS,
    "value key": "a: {=: 1, b: 2}\n",
    "recursive alias": "a: &r [1, *r]\n",
    "recursive mapping": "&m {self: *m}\n",
    "set": "!!set {a, b}\n",
    "ordered map": "!!omap [a: 1, b: 2]\n",
    "pairs": "!!pairs [a: 1, a: 2]\n",
    "binary": "data: !!binary aGVsbG8=\n",
    "tagged string": "a: !!str 12\nb: !!int '7'\n",
    "integer keys": "1: one\n2.5: two\nnull: none\n",
    "duplicate keys": "a: 1\na: 2\n",
    "unhashable key": "? [a, b]\n: c\n",
    "unknown tag": "a: !custom x\n",
    "empty": "",
    "scalar document": "just text\n",
    "empty document": "---\n...\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "anchored scalar": "a: &n 12\nb: *n\nc: &s text\nd: [*s, *n]\n",
    "alias as key": "a: &k key\n*k : value\n",
    "alias to a list as key": "a: &l [1]\n? *l\n: value\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\nc: *x\n",
    "explicit collection tags": "!!map {a: !!seq [1, ! 2, !!str 3], b: !!float 1}\n",
    "non-specific tags": "a: ! 12\nb: ! true\nc: !!null ''\n",
    "quoted look-alikes": "a: '12'\nb: \"true\"\nc: 'null'\nd: '2026-01-02'\n",
    "nested": "a:\n- - - [x, {y: [z, {w: 1}]}]\n  - {}\n- []\n",
}

BAD = [
    "flows: [unclosed\n",
    "name: a\n  threads: 2\n",
    "a: b\n- c\n",
    "name: 'open\n",
    "key: value\n\tindented: tab\n",
    "a: *missing\n",
    "? [a, b]\n: c\nd: {[e]: f}\n",
]


FAST = yaml_io.SAFE_LOADER


def _load(text: str, loader: Any) -> Any:
    """What a loader makes of the text; ``None``: what ``yaml_io.load`` makes of it."""
    try:
        data = yaml_io.load(text) if loader is None else yaml.load(text, Loader=loader)
        return repr(data)  # repr: nan != nan, and 1 == True would hide a bool
    except yaml.YAMLError as error:
        return ("error", str(error))


def _read(path: Path, loader: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(yaml_io, "SAFE_LOADER", loader)
        try:
            return read_document(path)
        except SpecError as error:
            return ("error", str(error))


@needs_libyaml
def test_the_c_loader_is_used_when_present() -> None:
    assert issubclass(yaml_io.SAFE_LOADER, yaml.CSafeLoader)
    assert issubclass(yaml_io.SAFE_DUMPER, yaml.CSafeDumper)


def test_an_object_met_twice_is_written_twice_without_anchors() -> None:
    shared = {"tags": ["smoke", "cart"]}
    text = yaml_io.dump({"a": shared, "b": [shared, shared]})
    assert "&" not in text and "*" not in text
    assert yaml.safe_load(text) == {"a": shared, "b": [shared, shared]}


@needs_libyaml
@pytest.mark.parametrize("name", SHAPES)
def test_every_shape_loads_as_the_pure_loader_loads_it(name: str) -> None:
    expected = _load(SHAPES[name], yaml.SafeLoader)
    assert _load(SHAPES[name], None) == expected
    if isinstance(expected, str):  # libyaml's own errors have no quoted lines: yaml_io adds them
        assert _load(SHAPES[name], FAST) == expected


@needs_libyaml
def test_plain_documents_skip_pyyamls_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> Any:
        raise AssertionError("stock constructor used")

    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_document", refuse)
    monkeypatch.setattr(yaml.CSafeLoader, "get_single_node", refuse)  # no node is composed
    assert yaml_io.load(SHAPES["plain"]) == {
        "a": {"b": [1, 2.5, "x", None, True]},
        "c": ["d", {"e": "f"}],
    }
    shared = yaml_io.load(SHAPES["shared alias"])
    assert shared["base"] is shared["again"]  # an alias is the same object, as PyYAML makes it
    anchored = yaml_io.load(SHAPES["anchored scalar"])
    assert anchored == {"a": 12, "b": 12, "c": "text", "d": ["text", 12]}
    for name in ("merge keys", "recursive alias", "two documents", "duplicate anchor"):
        with pytest.raises(AssertionError, match="stock constructor"):
            yaml_io.load(SHAPES[name])  # what the direct construction leaves to PyYAML


@needs_libyaml
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_both_loaders_read_every_example_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _read(path, FAST, monkeypatch)
    assert fast == _read(path, yaml.SafeLoader, monkeypatch)


@needs_libyaml
def test_both_loaders_build_the_same_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scalars.yaml"
    path.write_text(SCALARS)
    fast = _read(path, FAST, monkeypatch)
    pure = _read(path, yaml.SafeLoader, monkeypatch)
    assert repr(fast) == repr(pure)  # repr: nan != nan, and 1 == True would hide a bool
    assert fast["merged"] == {"threads": 4, "strategy": "duration"}


@needs_libyaml
@pytest.mark.parametrize("text", BAD)
def test_a_bad_document_gets_the_pure_loaders_message(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    fast = _read(path, FAST, monkeypatch)
    assert fast == _read(path, yaml.SafeLoader, monkeypatch)
    if fast[0] == "error":
        assert "not valid YAML" in fast[1]


@needs_libyaml
def test_a_very_large_bad_document_keeps_the_c_loaders_error_with_lines_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past the limit the pure loader does not read it again (half a minute for 5 MB): the
    # message has libyaml's wording, and the same positions with their lines quoted.
    path = tmp_path / "bad.yaml"
    path.write_text("name: 'é'\nflows: [unclosed\n")
    monkeypatch.setattr(yaml_io, "PURE_RETRY_LIMIT", 10)
    kind, message = _read(path, FAST, monkeypatch)
    assert kind == "error"
    assert message.startswith(f"{path}: not valid YAML: while parsing a flow sequence")
    assert "line 2, column 8:\n    flows: [unclosed\n           ^\n" in message
    assert "did not find expected ',' or ']'" in message


@pytest.mark.parametrize(
    ("text", "problem", "where"),
    [
        ("kind: x\nthreads: !!int twelve\n", "cannot read 'twelve' as int", "line 2, column 10"),
        ("a: [1, !!timestamp soon]\n", "cannot read 'soon' as timestamp", "line 1, column 8"),
        ("a: !!bool maybe\n", "cannot read 'maybe' as bool", "line 1, column 4"),
        ("a: !!float x\n", "cannot read 'x' as float", "line 1, column 4"),
        # after a merge key PyYAML's own loader reads it, and its constructor says no position
        ("b: &b {x: 1}\nc: {<<: *b}\nd: !!int twelve\n", "a tagged value cannot be read", ""),
    ],
)
def test_a_scalar_its_tag_rejects_is_a_yaml_error(
    text: str, problem: str, where: str, tmp_path: Path
) -> None:
    # PyYAML's constructors raise ValueError, KeyError or AttributeError there: a traceback.
    with pytest.raises(Exception) as pure:
        yaml.load(text, Loader=yaml.SafeLoader)
    assert not isinstance(pure.value, yaml.YAMLError)
    path = tmp_path / "tagged.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        read_document(path)
    message = str(caught.value)
    assert "not valid YAML" in message and problem in message
    assert where in message


def test_deep_nesting_is_read_or_refused_without_a_crash(tmp_path: Path) -> None:
    # PyYAML's pure loader, and json's decoder, recurse once per level: past Python's
    # recursion limit they raised RecursionError (a traceback) instead of a message.
    nested = tmp_path / "nested.yaml"
    nested.write_text("a: " + "[" * 900 + "]" * 900 + "\n")
    value = read_document(nested)["a"]
    for _ in range(899):
        value = value[0]
    assert value == []

    for name, text, problem in [
        ("deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n", "exceeded maximum nesting depth"),
        ("deep.json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SpecError) as caught:
            read_document(path)
        assert "not valid YAML" in str(caught.value) or name.endswith(".json")
        assert problem in str(caught.value)


def test_a_yaml_error_quotes_the_offending_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: shop\nflows: [unclosed\n")
    with pytest.raises(SpecError) as caught:
        read_document(path)
    message = str(caught.value)
    assert "not valid YAML" in message
    assert "line 3, column 1" in message  # where the pure loader sees the problem
    assert "flows: [unclosed" in message  # the offending line quoted, as before


ODD_STRINGS = [
    "", " ", "a b", " lead", "trail ", "1", "-1", "1.5", "0x1f", "0o17", "017", "1_000", "1e3",
    "6.02e+23", "true", "True", "yes", "No", "on", "OFF", "null", "~", "Null", ".inf", "-.Inf",
    ".nan", "2026-01-02", "2026-01-02T03:04:05Z", "12:30", "1:20:30", "=", "<<", "- x", "? q",
    ": c", "#c", "a #b", "a: b", "a:b", "[x]", "{y}", "x, y", "&a", "*b", "!t", "|", ">", "%p",
    "@x", "`x", "'q'", '"d"', "multi\nline", "trailing\n", "\ttab", "cr\rlf", "é", "日本",
    "emoji \U0001f600", "\x85", "\u2028", "\x00", "\x07", "\x7f", "\ufeff",
    "tests/test_a.py::test_b[x-1]", "word " * 40, "a" * 200,
]  # fmt: skip
ODD_SCALARS = [*ODD_STRINGS, 0, -1, 2**70, 0.0, -0.0, 1.5, 1e20, 1e-7, 3.0, float("inf"),
               float("-inf"), float("nan"), True, False, None]  # fmt: skip


def _documents() -> list[Any]:
    return [
        {"scalars": ODD_SCALARS, "keys": {k: k for k in ODD_STRINGS}},
        {"b": 1, "a": {"z": [], "y": {}, "x": [[], {}, [1, [2, [3]]]]}, "c": [{"d": None}]},
        {1: "int key", "b": "mixed keys do not sort", None: [True, 2.5], 2.5: "float key"},
        [{"id": s, "name": s.strip()} for s in ODD_STRINGS],
        "just a string",
        [],
        {},
        None,
    ]


OPTIONS = [
    {},
    {"sort_keys": False},
    {"sort_keys": False, "allow_unicode": True, "width": 120},
    {"indent": 4, "explicit_start": True, "width": 40},
]


def _literal_blocks(dumper: Any, data: str) -> Any:
    """A string representer like the one Hera registers on PyYAML's safe dumper when imported:
    multi-line strings as literal blocks, ``y``/``n`` quoted for YAML 1.1 readers."""
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if data in ("y", "n"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


def _refuse(*args: Any, **kwargs: Any) -> str:
    raise AssertionError("plain data went through PyYAML's representer")


@pytest.mark.parametrize("strings", ["pyyaml's", "registered"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_plain_documents_are_written_as_pyyaml_writes_them(
    options: dict[str, Any], strings: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # yaml_io writes plain data through libyaml's event API, skipping PyYAML's representer and
    # serializer (but not a string representer registered on the dumper): PyYAML's own output
    # is the oracle, for every document alone and all together.
    registry = yaml_io.SAFE_DUMPER.yaml_representers
    stock = yaml.representer.SafeRepresenter.represent_str
    monkeypatch.setitem(registry, str, stock if strings == "pyyaml's" else _literal_blocks)
    # Strings repeat (each event is made once per string): keys, answers, a multi-line value.
    repeated = [{"id": "two\nlines", "answer": "y", "n": "yes"} for _ in range(3)]
    documents = [*_documents(), {"answers": ["y", "n", "yes"]}, {"items": repeated}]
    alone = [yaml.dump_all([d], Dumper=yaml_io.SAFE_DUMPER, **options) for d in documents]
    together = yaml.dump_all(documents, Dumper=yaml_io.SAFE_DUMPER, **options)
    monkeypatch.setattr(yaml, "dump_all", _refuse)
    assert [yaml_io.dump(d, **options) for d in documents] == alone
    assert yaml_io.dump_all(documents, **options) == together


@pytest.mark.parametrize(
    "value",
    [
        ("a", "tuple"),
        {"a", "set"},
        b"bytes",
        __import__("datetime").date(2026, 1, 2),
        OutputFormat.JSON,
    ],
    ids=["tuple", "set", "bytes", "date", "str enum"],
)
def test_other_values_take_pyyamls_own_path(value: Any) -> None:
    def written(dump: Any) -> Any:
        try:
            return dump()
        except yaml.YAMLError as error:
            return ("error", type(error), str(error))

    document = {"plain": ["x", 1], "other": value}
    ours = written(lambda: yaml_io.dump(document))
    assert ours == written(lambda: yaml.dump_all([document], Dumper=yaml_io.SAFE_DUMPER))


@needs_libyaml
def test_compiled_output_is_the_same_with_the_c_dumper(shop_execution_path: Path) -> None:
    documents = compile_plan(plan_execution(load_execution(shop_execution_path))).documents()
    text = dump_documents(documents, OutputFormat.YAML)
    assert text == yaml.safe_dump_all(documents, sort_keys=False, width=120)
    assert list(yaml.safe_load_all(text)) == documents


def test_loading_a_spec_leaves_the_collector_as_it_was(shop_execution_path: Path) -> None:
    assert gc.isenabled()
    load_any_or_exit(shop_execution_path)
    assert gc.isenabled()
    gc.disable()
    try:
        load_any_or_exit(shop_execution_path)
        assert not gc.isenabled()
    finally:
        gc.enable()
