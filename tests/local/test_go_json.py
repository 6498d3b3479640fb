"""Text a pod printed, read as Go's ``json.Unmarshal`` reads it: Argo puts the error on the
node verbatim, so the local runner words it as ``encoding/json/scanner.go`` does."""

from __future__ import annotations

import pytest

from engine.backends.local.go_json import GoJSONError, decode


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello world", "invalid character 'h' looking for beginning of value"),
        ("3 items", "invalid character 'i' after top-level value"),
        ("2024-01-01", "invalid character '-' after top-level value"),
        ("", "unexpected end of JSON input"),
        ("[1, 2", "unexpected end of JSON input"),
        ("[1 2]", "invalid character '2' after array element"),
        ('{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"),
        ('{"a" 1}', "invalid character '1' after object key"),
        ("{a: 1}", "invalid character 'a' looking for beginning of object key string"),
        ("[1,]", "invalid character ']' looking for beginning of value"),
        ("trial", "invalid character 'i' in literal true (expecting 'u')"),
        ("-x", "invalid character 'x' in numeric literal"),
        ("1.x", "invalid character 'x' after decimal point in numeric literal"),
        ("1e+x", "invalid character 'x' in exponent of numeric literal"),
        ('"a\tb"', "invalid character '\\t' in string literal"),
        ('"\\q"', "invalid character 'q' in string escape code"),
        ('"\\u12z4"', "invalid character 'z' in \\u hexadecimal character escape"),
        ("NaN", "invalid character 'N' looking for beginning of value"),
        ("[-Infinity]", "invalid character 'I' in numeric literal"),
        ("it's", "invalid character 'i' looking for beginning of value"),
        ("'quoted'", "invalid character '\\'' looking for beginning of value"),
        ("é", "invalid character 'Ã' looking for beginning of value"),  # Go quotes a byte
    ],
)
def test_rejected_text_is_worded_as_go_words_it(text: str, message: str) -> None:
    with pytest.raises(GoJSONError) as caught:
        decode(text)
    assert str(caught.value) == message


def test_json_go_accepts_decodes_to_its_value() -> None:
    assert decode(' {"a": [1, 2.5, "x", true, null]} \n') == {"a": [1, 2.5, "x", True, None]}
    assert decode('"Infinity"') == "Infinity"
