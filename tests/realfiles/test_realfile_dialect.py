"""File dialect: trailing separators, short lines, semicolons, latin-1; errors give file lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychometrics.data import load_responses, read_table
from psychometrics.errors import ResponseError


def test_trailing_separator_on_data_lines_is_an_error_not_a_shift(tmp_path):
    # pandas would take the first column as an index and shift every column by one
    path = tmp_path / "export.csv"
    path.write_text("respondent_id,q1,q2\nr1,1,2,\nr2,3,4,\n")
    with pytest.raises(ResponseError) as info:
        load_responses(path)
    assert str(info.value) == (
        f"response file {str(path)!r}: 2 data line(s) do not have the header's 3 fields: line 2 has 4 fields but "
        "the header has 3 (a trailing ',' at the end of the data lines?); lines 2, 3; remove the extra separators, "
        "or give the extra column a name in the header; the columns are not shifted silently")


def test_short_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("respondent_id,q1,q2\nr1,1,2\n\nr2,3\nr3,1,1\n")
    with pytest.raises(ResponseError, match=r"1 data line\(s\) do not have the header's 3 fields: line 4 has 2 "
                                             r"fields but the header has 3"):
        load_responses(path)


def test_quoted_comment_with_separator_is_one_field(tmp_path):
    path = tmp_path / "export.csv"
    pd.DataFrame({"respondent_id": ["a", "b"], "q1": [1, 2], "q2": [2, 1],
                  "comment": ["fine, thanks", 'said "no"']}).to_csv(path, index=False)
    r = load_responses(path, exclude=["comment"], warn=False)
    assert r.item_ids == ["q1", "q2"]
    assert r.metadata["comment"].tolist() == ["fine, thanks", 'said "no"']


def test_semicolon_file_names_the_separator_to_pass(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("respondent_id;q1;q2\nr1;1;2\nr2;3;4\n")
    with pytest.raises(ResponseError) as info:
        load_responses(path)
    assert str(info.value) == (
        f"response file {str(path)!r}: the header line has one column when split by ',' but 3 when split by ';': "
        "the file looks semicolon-separated; pass sep=';' (command line: --sep ';')")
    r = load_responses(path, sep=";", warn=False)
    np.testing.assert_array_equal(r.values, [[1, 2], [3, 4]])


def test_latin1_file_names_the_encoding_option(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("respondent_id,q1,q2\nJosé,1,2\nZoë,3,4\n".encode("latin-1"))
    with pytest.raises(ResponseError) as info:
        load_responses(path)
    assert str(info.value) == (
        f"response file {str(path)!r} is not utf-8-sig text: byte 0xe9 on line 2 cannot be decoded; pass the "
        "file's encoding: encoding='latin-1' (command line: --encoding latin-1); Excel on Windows usually "
        "writes cp1252")
    r = load_responses(path, encoding="latin-1", warn=False)
    assert list(r.person_ids) == ["José", "Zoë"]


def test_byte_order_mark_and_crlf_are_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfrespondent_id,q1,q2\r\nr1,1,2\r\nr2,3,4\r\n")
    r = load_responses(path, warn=False)
    assert r.person_ids.name == "respondent_id"
    np.testing.assert_array_equal(r.values, [[1, 2], [3, 4]])


def test_cell_errors_give_the_file_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("# exported 2026-12-01\nrespondent_id,q1,q2\nr1,1,2\n\nr2,1,x\n")
    # the blank line counts: the bad cell is on line 5 of the file
    with pytest.raises(ResponseError, match=r"^respondent 'r2' \(line 5\), item 'q2' \(column 2\): value 'x' is not "
                                             r"a number$"):
        load_responses(path)


def test_read_table_is_as_strict(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2,3\n")
    with pytest.raises(ResponseError, match="line 2 has 3 fields"):
        read_table(path)
