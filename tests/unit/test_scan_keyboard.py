"""The AZERTY recovery table: what a US-layout scanner types on a French keyboard, and back."""
import pytest

from asset_tracker.devices import keyboard
from asset_tracker.tags import format_tag

TAG_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"


def test_the_number_row_comes_out_as_the_azerty_symbols():
    assert keyboard.garble("1234567890") == "&é\"'(-è_çà"


def test_the_dash_comes_out_as_a_closing_parenthesis_and_the_six_as_a_dash():
    assert keyboard.garble("-") == ")"
    assert keyboard.garble("6") == "-"


def test_letters_a_q_z_w_swap_and_m_comes_out_as_a_question_mark():
    assert keyboard.garble("AQZWM") == "QAWZ?"
    assert keyboard.garble("BCDEFGHIJKLNOPRSTUVXY") == "BCDEFGHIJKLNOPRSTUVXY"


def test_a_whole_tag_is_garbled_as_a_technician_sees_it():
    assert keyboard.garble("RB-004217-0") == "RB)àà'é&è)à"


def test_mac_and_belgian_azerty_differ_on_six_and_eight():
    assert keyboard.garble("68-", "azerty-mac") == "§!)"


@pytest.mark.parametrize("layout", ["azerty", "azerty-mac"])
@pytest.mark.parametrize("caps_lock", [False, True])
def test_every_tag_character_is_recovered(layout, caps_lock):
    for ch in TAG_ALPHABET:
        assert keyboard.decode(keyboard.garble(ch, layout, caps_lock)) == ch, (ch, layout, caps_lock)


def test_the_recovery_table_names_each_garbled_character_once():
    assert keyboard.RECOVERY["&"] == "1"
    assert keyboard.RECOVERY[")"] == "-"
    assert keyboard.RECOVERY["-"] == "6"
    assert keyboard.RECOVERY["?"] == "M"
    assert keyboard.RECOVERY["Q"] == "A" and keyboard.RECOVERY["A"] == "Q"
    assert len(set(keyboard.RECOVERY)) == len(keyboard.RECOVERY)


@pytest.mark.parametrize("prefix,seq", [("RB", 4217), ("QA", 123456), ("MW", 9), ("ZM", 600066)])
def test_garbled_tags_are_recovered_with_their_check_character(prefix, seq):
    tag = format_tag(prefix, seq)
    assert keyboard.recover_tags(keyboard.garble(tag)) == [tag]
    assert keyboard.recover_tags(keyboard.garble(tag, caps_lock=True)) == [tag]


def test_separators_typed_as_six_are_repaired():
    tag = format_tag("RB", 4217)  # RB-004217-0
    assert keyboard.recover_tags("RB6àà'é&è6" + tag[-1]) == [tag]


def test_a_garbled_code_with_a_wrong_check_character_is_not_recovered():
    assert keyboard.recover_tags(keyboard.garble("RB-004217-3")) == []


def test_a_clean_code_is_not_garbled():
    assert not keyboard.looks_garbled("RB-004217-0")
    assert not keyboard.looks_garbled("PF1ABC23")
    assert keyboard.looks_garbled("RB)àà'é&è)à")
