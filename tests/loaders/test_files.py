import json
import os
from pathlib import Path

import pytest

from lineage.facts import Rejection
from lineage.loaders import files
from lineage.loaders.files import JsonLine, read_json_lines


def _read(path: Path) -> list[tuple[int, str]]:
    """(line, the value's `k` or the rejection's reason) for each record of a file."""
    return [
        (i.line, i.value["k"] if isinstance(i, JsonLine) else i.reason)
        for i in read_json_lines(path)
    ]


def test_each_hostile_line_is_rejected_with_its_reason_and_the_others_load(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                b'{"k": "first"}',
                b'{"k": "caf\xe9"}',  # Latin-1, not UTF-8
                b'{"k": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # nested 5000 deep
                b'{"k": ' + b"[" * 150 + b"]" * 150 + b"}",  # deeper than the bound
                b'{"k": ' + b"9" * 5000 + b"}",  # a number Python refuses
                b'{"k": NaN}',
                b'{"k": "\\ud800"}',  # a lone surrogate escape
                b'{"k": "\\ud83d\\ude00 a\\u0000b"}',  # a pair, and NUL: real text
                b'{"k": "last"}',
            ]
        )
        + b"\n"
    )
    got = _read(path)
    assert got[0] == (1, "first")
    assert got[1][0] == 2 and got[1][1] == "not valid UTF-8 (byte 0xe9 at offset 10)"
    assert got[2] == (3, f"nested deeper than {files.MAX_DEPTH} levels")
    assert got[3] == (4, f"nested deeper than {files.MAX_DEPTH} levels")
    assert got[4][0] == 5 and "4300 digits" in got[4][1]
    assert got[5][0] == 6 and "NaN is not a JSON number" in got[5][1]
    assert got[6][0] == 7 and "lone UTF-16 surrogate" in got[6][1]
    assert got[7] == (8, "\U0001f600 a\x00b")
    assert got[8] == (9, "last")
    bad = [i for i in read_json_lines(path) if isinstance(i, Rejection)]
    assert bad[0].raw == '{"k": "caf\\xe9"}'  # kept, made printable


def test_a_line_over_the_record_bound_is_skipped_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_RECORD_BYTES", 1000)
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"k": "x" * 5000}) + "\n" + json.dumps({"k": "after"}) + "\n")
    assert _read(path) == [
        (1, "record longer than 1000 bytes (the limit on one record)"),
        (2, "after"),
    ]


def test_a_byte_order_mark_and_crlf_endings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"k": "a"}\r\n{"k": "b"}\r\n')
    assert _read(path) == [(1, "a"), (2, "b")]


def test_a_pretty_printed_array_is_one_record_per_element(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{"k": "a"}, {"k": "b"}], indent=2))
    assert _read(path) == [(1, "a"), (2, "b")]


def test_a_path_that_is_neither_file_nor_directory_is_named_for_what_it_is(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(files.InputError, match="not a regular file or directory"):
        files.expand_paths([fifo], (".jsonl",))
    with pytest.raises(files.InputError, match="no such file or directory"):
        files.expand_paths([tmp_path / "missing.jsonl"], (".jsonl",))
