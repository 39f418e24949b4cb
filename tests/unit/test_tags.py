"""Asset tags: format, check character, parsing of what people type."""
import pytest

from asset_tracker.tags import ALPHABET, TagError, check_character, format_tag, parse_tag


def test_format_pads_the_sequence_and_appends_a_check_character():
    tag = format_tag("RB", 4217)
    assert tag.startswith("RB-004217-") and len(tag) == len("RB-004217-X")
    assert parse_tag(tag).sequence == 4217


def test_tags_use_only_capitals_digits_and_dashes():
    for n in (0, 1, 99, 990001, 123456, 999999):
        assert set(format_tag("RB", n)) <= set(ALPHABET + "-")


def test_parse_accepts_lower_case_and_spaces_around():
    tag = format_tag("RB", 17)
    assert parse_tag(f"  {tag.lower()} ").text == tag


def test_wrong_check_character_is_refused_with_the_reason():
    tag = format_tag("RB", 4217)
    wrong = tag[:-1] + ("0" if tag[-1] != "0" else "1")
    with pytest.raises(TagError, match="check character"):
        parse_tag(wrong)


def test_every_single_character_typo_is_caught():
    tag = format_tag("RB", 4217)
    body = tag[:-2]
    for i, ch in enumerate(body):
        if ch == "-":
            continue
        alphabet = "0123456789" if ch.isdigit() else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        for other in alphabet:
            if other != ch:
                typo = body[:i] + other + body[i + 1:] + tag[-2:]
                with pytest.raises(TagError):
                    parse_tag(typo)


def test_adjacent_digit_swaps_are_caught():
    tag = format_tag("RB", 4217)  # RB-004217-C: swap 4 and 2, 2 and 1, 1 and 7
    for i in range(3, 8):
        swapped = tag[:i] + tag[i + 1] + tag[i] + tag[i + 2:]
        if swapped != tag:
            with pytest.raises(TagError):
                parse_tag(swapped)


@pytest.mark.parametrize("text,message", [
    ("", "empty"), ("hello", "not an asset tag"), ("RB-12-3", "not an asset tag"), ("RB_004217_3", "not an asset tag"),
])
def test_garbage_is_refused_with_a_message(text, message):
    with pytest.raises(TagError, match=message):
        parse_tag(text)


@pytest.mark.parametrize("prefix", ["", "rb", "9RB", "RB-1", "TOOLONGPREFIX"])
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(TagError):
        format_tag(prefix, 1)


def test_check_character_rejects_foreign_characters():
    with pytest.raises(TagError):
        check_character("RB-00É1")
