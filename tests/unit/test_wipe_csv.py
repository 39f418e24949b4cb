"""CSV import of wipe results: separators, encodings, and every error named by row and column."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from asset_tracker.tags import format_tag
from asset_tracker.wiping.csv_import import (
    COLUMNS,
    REQUIRED_COLUMNS,
    WipeCsvError,
    parse_wipe_csv,
    template,
)

TAG_1 = format_tag("RB", 4217)
TAG_2 = format_tag("RB", 4218)
PARIS_WINTER = timezone(timedelta(hours=1))

HEADER = ";".join(COLUMNS)


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join(lines).encode(encoding) + b"\r\n"


def errors_of(data: bytes) -> list[tuple[int, str | None]]:
    with pytest.raises(WipeCsvError) as caught:
        parse_wipe_csv(data, "import.csv")
    return [(e.row, e.column) for e in caught.value.errors]


GOOD_ROWS = (
    f"{TAG_1};WD-WCC4N7ABCDEF;HDD;500 107 862 016;Fill With Zeros;Clear;ShredOS;2024.02.2;1;0x00;"
    "last;12/03/2024 09:15;12/03/2024 11:02:30;Jérôme Dupré;Réussi",
    f"{TAG_2};S3Z9NB0K123456A;ssd;;ATA Secure Erase;purge;hdparm;9.65;;;full read-back;"
    "2024-03-12T14:00:00+01:00;2024-03-12T14:06:12+01:00;Jérôme Dupré;failed",
)


def test_template_is_the_header_of_an_importable_file():
    assert template() == HEADER + "\r\n"
    assert template(",") == ",".join(COLUMNS) + "\r\n"
    assert set(REQUIRED_COLUMNS) < set(COLUMNS)
    assert COLUMNS[:2] == ("device_tag", "medium_serial")


def test_semicolon_utf8_with_bom_reads_every_field():
    data = b"\xef\xbb\xbf" + csv_bytes(HEADER, *GOOD_ROWS)
    result = parse_wipe_csv(data, "ateliers.csv", default_timezone=PARIS_WINTER)

    assert result.filename == "ateliers.csv"
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert (result.encoding, result.delimiter) == ("utf-8-sig", ";")
    first, second = result.rows
    assert first.row == 2 and first.device_tag == TAG_1
    assert first.medium_serial == "WD-WCC4N7ABCDEF"
    assert first.kind == "hdd"
    assert first.capacity_bytes == 500107862016  # French digit grouping accepted
    assert first.method == "Fill With Zeros" and first.nist_category == "clear"
    assert (first.tool, first.tool_version, first.passes, first.pattern) == ("ShredOS", "2024.02.2", 1, "0x00")
    assert first.verification == "last"
    assert first.started_at == datetime(2024, 3, 12, 9, 15, tzinfo=PARIS_WINTER)  # day first
    assert first.ended_at == datetime(2024, 3, 12, 11, 2, 30, tzinfo=PARIS_WINTER)
    assert first.timezone_known is True
    assert first.operator == "Jérôme Dupré" and first.result == "passed"
    assert second.row == 3 and second.kind == "ssd" and second.capacity_bytes is None
    assert second.nist_category == "purge" and second.passes is None and second.pattern is None
    assert second.verification == "full read-back" and second.result == "failed"
    assert second.started_at == datetime(2024, 3, 12, 13, 0, tzinfo=UTC)


def test_comma_separated_windows_1252_file_is_read():
    rows = [r.replace(";", ",").replace("500 107 862 016", "500107862016") for r in GOOD_ROWS]
    data = csv_bytes(",".join(COLUMNS), *rows, encoding="cp1252")
    result = parse_wipe_csv(data)

    assert (result.encoding, result.delimiter) == ("cp1252", ",")
    assert [r.operator for r in result.rows] == ["Jérôme Dupré", "Jérôme Dupré"]


def test_times_without_zone_stay_naive_and_flagged_when_no_zone_is_given():
    (row, _) = parse_wipe_csv(csv_bytes(HEADER, *GOOD_ROWS)).rows

    assert row.started_at == datetime(2024, 3, 12, 9, 15) and row.started_at.tzinfo is None
    assert row.timezone_known is False


def test_columns_may_come_in_any_order_with_spreadsheet_titles_and_optional_ones_left_out():
    data = csv_bytes(
        "Result;Operator;Ended at;Started at;NIST category;Method;Tool;Kind;Medium serial;Device tag",
        f"OK;A. Martin;2024-03-12 10:00;2024-03-12 09:00;Destroy;Shredder 6 mm;HSM Powerline;other;X1;{TAG_1}",
    )
    (row,) = parse_wipe_csv(data).rows

    assert (row.device_tag, row.kind, row.nist_category, row.result) == (TAG_1, "other", "destroy", "passed")
    assert row.capacity_bytes is None and row.tool_version is None and row.verification is None


def test_every_bad_cell_is_reported_with_its_row_and_column_and_nothing_is_returned():
    bad_tag = TAG_1[:-1] + ("0" if TAG_1[-1] != "0" else "1")  # wrong check character
    data = csv_bytes(
        HEADER,
        GOOD_ROWS[0],
        f"{bad_tag};SN1;floppy;12,5;m;Clear;t;;0;;;2024-03-12 10:00;2024-03-12 09:00;op;passed",
        f"{TAG_2};;ssd;100;m;Medium;t;;;;;yesterday;;;maybe",
    )
    assert errors_of(data) == [
        (3, "device_tag"),
        (3, "kind"),
        (3, "capacity_bytes"),
        (3, "passes"),
        (3, "ended_at"),
        (4, "medium_serial"),
        (4, "nist_category"),
        (4, "started_at"),
        (4, "ended_at"),
        (4, "operator"),
        (4, "result"),
    ]


def test_error_messages_say_what_is_wrong():
    data = csv_bytes(HEADER, f"{TAG_1};SN1;floppy;1;m;Clear;t;;;;;2024-03-12 10:00;2024-03-12 09:00;op;passed")
    with pytest.raises(WipeCsvError) as caught:
        parse_wipe_csv(data, "import.csv")

    messages = [str(e) for e in caught.value.errors]
    assert messages == [
        "row 2, column kind: 'floppy' is not one of hdd, ssd, nvme, emmc, other",
        "row 2, column ended_at: before started_at",
    ]
    assert str(caught.value).startswith("import.csv: 2 error(s): row 2, column kind")


def test_header_problems_are_reported_on_row_one():
    data = csv_bytes("device_tag;medium_serail;kind;kind;method", f"{TAG_1};SN;hdd;hdd;m")
    assert errors_of(data) == [
        (1, "medium_serail"),
        (1, "kind"),
        (1, "medium_serial"),
        (1, "nist_category"),
        (1, "tool"),
        (1, "started_at"),
        (1, "ended_at"),
        (1, "operator"),
        (1, "result"),
    ]


def test_row_with_more_cells_than_columns_is_refused_but_trailing_empty_cells_are_not():
    data = csv_bytes(HEADER, GOOD_ROWS[0] + ";;;", GOOD_ROWS[1] + ";surplus")
    assert errors_of(data) == [(3, None)]


def test_same_medium_and_start_twice_is_refused_on_the_second_row():
    data = csv_bytes(HEADER, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[0])
    assert errors_of(data) == [(4, "medium_serial")]


def test_blank_lines_keep_spreadsheet_row_numbers():
    data = csv_bytes(HEADER, GOOD_ROWS[0], ";;;;;;;;;;;;;;", GOOD_ROWS[1].replace("purge", "wipe"))
    assert errors_of(data) == [(4, "nist_category")]


def test_mixing_zoned_and_unzoned_times_in_a_row_is_refused():
    row = GOOD_ROWS[1].replace("2024-03-12T14:06:12+01:00", "2024-03-12 14:06:12")
    assert errors_of(csv_bytes(HEADER, row)) == [(2, "ended_at")]


def test_date_without_time_is_refused():
    row = GOOD_ROWS[1].replace("2024-03-12T14:00:00+01:00", "2024-03-12")
    assert errors_of(csv_bytes(HEADER, row)) == [(2, "started_at")]


def test_values_longer_than_the_database_columns_are_refused():
    row = GOOD_ROWS[0].replace("WD-WCC4N7ABCDEF", "W" * 101)
    assert errors_of(csv_bytes(HEADER, row)) == [(2, "medium_serial")]


@pytest.mark.parametrize(
    ("data", "row"),
    [
        (b"", 1),
        (b"\r\n\r\n", 1),
        (csv_bytes(HEADER), 2),  # header only
        (b"just one column\r\n", 1),
        ("device_tag;kind\r\n".encode("utf-16"), 1),  # Excel's "Unicode text"
        (b"\xef\xbb\xbfdevice_tag;kind\r\n\xff\xfe\r\n", 2),  # BOM promises UTF-8, then is not
        (b"device_tag;kind\r\n\x81;hdd\r\n", 2),  # neither UTF-8 nor Windows-1252
    ],
)
def test_unreadable_files_are_refused_with_a_row(data, row):
    assert errors_of(data)[0] == (row, None)


def test_unterminated_quote_is_refused():
    data = csv_bytes(HEADER, GOOD_ROWS[0], f'"{TAG_2};SN;hdd')
    assert errors_of(data) == [(3, None)]


def test_too_many_rows_are_refused():
    data = csv_bytes(HEADER, GOOD_ROWS[0], GOOD_ROWS[1])
    with pytest.raises(WipeCsvError) as caught:
        parse_wipe_csv(data, max_rows=1)
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, None)]
