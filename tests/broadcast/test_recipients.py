"""Recipient files and templates: every row is checked before anything is sent."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ValidationError
from broadcastio.broadcast.recipients import Template, open_recipient_file


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_carry_their_variables_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", 'recipient,name\n+1555 , Ada\n\n+1556,"Grace\nHopper"\n')
    rows = list(open_recipient_file(path).rows())
    assert [(r.line, r.recipient, r.variables["name"]) for r in rows] == [
        (2, "+1555", " Ada"),
        (4, "+1556", "Grace\nHopper"),
    ]


def test_excel_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("recipient\n+1555\n".encode("utf-8-sig"))
    assert [r.recipient for r in open_recipient_file(path).rows()] == ["+1555"]


def test_jsonl_rows(tmp_path: Path) -> None:
    first = '{"recipient": "+1", "name": "Ada", "n": 3, "vip": true, "x": null}'
    text = first + '\n\n{"recipient": "+2"}\n'
    rows = list(open_recipient_file(write(tmp_path, "r.jsonl", text)).rows())
    assert rows[0].variables == {"recipient": "+1", "name": "Ada", "n": "3", "vip": "true", "x": ""}
    assert (rows[1].line, rows[1].recipient) == (3, "+2")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("r.csv", "name\nAda\n", "line 1: the CSV header has no 'recipient' column (found: name)"),
        ("r.csv", "recipient,a,a\n1,2,3\n", "line 1: the CSV header repeats column(s) a"),
        ("r.csv", "recipient,name\n+1,Ada\n  ,Bob\n", "line 3: the recipient is empty"),
        ("r.csv", "recipient,name\n+1,Ada,extra\n", "line 2: has 3 fields but the header has 2"),
        ("r.jsonl", '{"recipient": "+1"}\n[1]\n', "line 2: expected a JSON object, got list"),
        ("r.jsonl", '{"recipient": "+1"}\n{oops\n', "line 2: not valid JSON"),
        ("r.jsonl", '{"name": "Ada"}\n', "line 1: needs a 'recipient' key holding text"),
        ("r.jsonl", '{"recipient": 15551234}\n', "line 1: needs a 'recipient' key holding text"),
        ("r.jsonl", '{"recipient": "+1", "tags": ["a"]}\n', "line 1: key 'tags' holds a list"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ValidationError) as caught:
        open_recipient_file(path).check(None)
    assert caught.value.message.startswith(f"{path}, {expected}")
    assert caught.value.message.endswith("; nothing was sent")
    assert caught.value.details["line"] == int(expected.split(":")[0].split()[1])


def test_check_finds_a_missing_template_variable_before_sending(tmp_path: Path) -> None:
    rows = [json.dumps({"recipient": f"+{n}", "name": "x"}) for n in range(5)]
    text = "\n".join([*rows, '{"recipient": "+9"}'])
    recipients = open_recipient_file(write(tmp_path, "r.jsonl", text))
    with pytest.raises(ValidationError, match=r"line 6: the template uses \{name\} but this row"):
        recipients.check(Template("Hello {name}"))
    assert recipients.check(Template("Hello")) == 6


def test_missing_column_is_reported_on_the_first_data_row(tmp_path: Path) -> None:
    recipients = open_recipient_file(write(tmp_path, "r.csv", "recipient\n+1\n+2\n"))
    with pytest.raises(ValidationError, match=r"line 2: the template uses \{name\}, \{day\}"):
        recipients.check(Template("Hi {name}, {day}"))


def test_stdin_is_spooled_and_sniffed() -> None:
    jsonl = open_recipient_file("-", stdin=io.BytesIO(b'\n {"recipient": "+1"}\n'))
    assert jsonl.kind == "jsonl" and jsonl.label == "<stdin>"
    assert [r.recipient for r in jsonl.rows()] == ["+1"]
    assert [r.recipient for r in jsonl.rows()] == ["+1"]  # readable twice
    csv_file = open_recipient_file("-", stdin=io.BytesIO(b"recipient\n+2\n"))
    assert csv_file.kind == "csv" and [r.recipient for r in csv_file.rows()] == ["+2"]


def test_missing_file_and_bad_kind(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        open_recipient_file(tmp_path / "nope.csv")
    with pytest.raises(ValidationError, match="is not a file"):
        open_recipient_file(tmp_path)
    with pytest.raises(ValidationError, match="'csv' or 'jsonl'"):
        open_recipient_file(tmp_path, kind="xlsx")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{name.__class__}", "use a plain column name"),
        ("{0}", "use a plain column name"),
        ("{}", "use a plain column name"),
        ("{name!r}", "format spec or conversion"),
        ("{name:>10}", "format spec or conversion"),
        ("{name", "invalid message template"),
        ("}", "invalid message template"),
    ],
)
def test_templates_accept_only_plain_fields(text: str, expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        Template(text)


def test_template_rendering() -> None:
    template = Template("Hi {name}, {{literal}} {name}")
    assert template.fields == ("name",)
    assert template.render({"name": "Ada", "other": "x"}) == "Hi Ada, {literal} Ada"
    assert Template("no fields {{}}").render({}) == "no fields {}"


NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


@given(st.dictionaries(NAMES, st.text(), max_size=4))
def test_render_substitutes_every_field_verbatim(variables: dict[str, str]) -> None:
    template = Template(" | ".join("{" + name + "}" for name in variables))
    assert template.render(variables) == " | ".join(variables.values())


# -- input that defeats the parsers: every case is a bad row with its line ----------------


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("r.jsonl", b'{"recipient": "+1"}\n{"recipient": "+2\xff"}\n', "line 2: not UTF-8 text"),
        ("r.csv", b"recipient,name\n+1,Ada\n+2,B\xe9a\n", "line 3: not UTF-8 text"),
        ("r.csv", b"recipient,name\n+1,\"A\nd\xc3a\"\n", "line 3: not UTF-8 text"),
        ("r.jsonl", b'{"recipient": "+1", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
         "line 1: JSON nested too deeply"),
        ("r.jsonl", b'\n{"recipient": "+1", "n": ' + b"9" * 5000 + b"}\n",
         "line 2: a number has more than"),
    ],
)  # fmt: skip
def test_undecodable_input_is_a_bad_row(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValidationError) as caught:
        open_recipient_file(path).check(None)
    assert caught.value.message.startswith(f"{path}, {expected}")
    assert caught.value.details == {"file": str(path), "line": int(expected.split()[1][:-1])}


def test_the_bad_byte_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"recipient\n+1\xfe\n")
    expected = r"line 2: not UTF-8 text \(byte 0xfe at character 3\)"
    with pytest.raises(ValidationError, match=expected):
        open_recipient_file(path).check(None)


def test_a_template_that_is_not_utf8_is_refused() -> None:
    # What a command-line argument holding a Latin-1 byte becomes under surrogateescape.
    with pytest.raises(ValidationError, match="template is not UTF-8 text \\(character 4"):
        Template("Hi \udce9 {name}")


GOOD_ROWS = st.lists(
    st.builds(lambda n: json.dumps({"recipient": f"+{n}", "name": "Ada"}), st.integers(0, 999)),
    min_size=1,
    max_size=4,
)
MALFORMED_LINES = st.one_of(
    st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
    st.builds(lambda depth: b"[" * depth + b"]" * depth, st.integers(1, 50_000)),
    st.builds(lambda depth: b'{"recipient": "+1", "a": ' + b"[" * depth, st.integers(1, 50_000)),
    st.builds(lambda digits: b'{"recipient": "+1", "n": ' + b"7" * digits + b"}",
              st.integers(1, 9000)),
    st.sampled_from([b"\xff", b'{"recipient": "\xc3"}', b'{"recipient": "+1\xed\xa0\x80"}',
                     b'{"recipient": "\\ud800"}', b"\xef\xbb\xbf", b"null", b'"text"']),
)  # fmt: skip


@given(before=GOOD_ROWS, bad=MALFORMED_LINES, after=GOOD_ROWS)
def test_a_malformed_jsonl_line_is_reported_at_its_own_line(
    tmp_path_factory: pytest.TempPathFactory, before: list[str], bad: bytes, after: list[str]
) -> None:
    """Whatever one line holds, reading either accepts it or names exactly that line."""
    path = tmp_path_factory.mktemp("jsonl") / "r.jsonl"
    lines = [row.encode() for row in before] + [bad] + [row.encode() for row in after]
    path.write_bytes(b"\n".join(lines) + b"\n")
    try:
        count = open_recipient_file(path).check(Template("Hi {name}"))
    except ValidationError as error:
        assert error.details == {"file": str(path), "line": len(before) + 1}
        assert error.message.endswith("; nothing was sent")
    else:
        blank = not bad.decode("utf-8", "replace").strip()
        assert count == len(before) + len(after) + (0 if blank else 1)


@given(bad=MALFORMED_LINES, after=GOOD_ROWS)
def test_a_malformed_csv_line_is_a_validation_error(
    tmp_path_factory: pytest.TempPathFactory, bad: bytes, after: list[str]
) -> None:
    """CSV quotes may join lines, so the error may come later, but never earlier, never a crash."""
    path = tmp_path_factory.mktemp("csv") / "r.csv"
    rows = [b"recipient,name", b"+1,Ada", bad, *(b"+%d,Bob" % n for n in range(len(after)))]
    path.write_bytes(b"\n".join(rows) + b"\n")
    try:
        open_recipient_file(path).check(None)
    except ValidationError as error:
        assert 3 <= error.details["line"] <= len(rows)


def test_a_webhook_column_makes_contacts_and_a_bad_url_is_refused_by_line(tmp_path: Path) -> None:
    good = write(
        tmp_path, "good.csv", "id,webhook,email\nteam-a,https://hooks.example.com/T/1,\n"
        "team-b,,b@example.com\n"
    )
    rows = list(open_recipient_file(good).rows())
    assert rows[0].recipient.addresses == {"webhook": "https://hooks.example.com/T/1"}
    assert rows[1].recipient.addresses == {"email": "b@example.com"}

    bad = write(tmp_path, "bad.csv", "id,webhook\nteam-a,https://h.example.com/1\nteam-b,h/secret\n")
    with pytest.raises(ValidationError) as caught:
        open_recipient_file(bad).check(None)
    assert "line 3" in caught.value.message and "invalid webhook address" in caught.value.message
    assert "secret" not in caught.value.message
