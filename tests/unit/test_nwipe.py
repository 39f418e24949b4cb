"""nwipe log parsing: the real sample logs, several disks in one log, and the logs it must refuse."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from asset_tracker.wiping.nwipe import (
    CLEAR,
    METHODS,
    PURGE,
    WipeLogError,
    lookup_method,
    parse_nwipe_log,
)

# The two logs of tests/fixtures/nwipe (nwipe 0.33, Debian), byte for byte, so the tests do not
# depend on a path outside the repository. Loopback devices have no serial number: nwipe 0.33 printed
# whatever bytes were in its buffer.
ZERO_1DISK_LOG = (
    b'[2026/11/29 03:28:29] warning: Command not found. Install smartmontools !\n'
    b'[2026/11/29 03:28:29] warning: Command not found. Install smartmontools !\n'
    b'[2026/11/29 03:28:29]  notice: Found /dev/loop0, VIRT, Loopback device,   8 MB, S/N=  \xa8l\xb2\x7f\n'
    b'[2026/11/29 03:28:29] warning: nwipe_log_sysinfo(): dmidecode failed, '
    b'"dmidecode -s bios-version" exit status = 1\n'
    b"[2026/11/29 03:28:29]  notice: Opened entropy source '/dev/urandom'.\n"
    b'[2026/11/29 03:28:29] warning: modprobe command not found. Install kmod package (modprobe)) !\n'
    b'[2026/11/29 03:28:29] warning: Most temperature monitoring may be unavailable as module drivetemp\n'
    b'[2026/11/29 03:28:29] warning: could not be loaded. drivetemp is not available on kernels < v5.5\n'
    b'[2026/11/29 03:28:29]  notice: hwmon: Module drivetemp loaded, drive temperatures available\n'
    b'[2026/11/29 03:28:29]  notice: Program options are set as follows...\n'
    b'[2026/11/29 03:28:29]  notice:   autonuke = 1 (on)\n'
    b'[2026/11/29 03:28:29]  notice:   autopoweroff = 0 (off)\n'
    b'[2026/11/29 03:28:29]  notice:   do not wait for a key before exiting\n'
    b'[2026/11/29 03:28:29]  notice:   do not show GUI interface\n'
    b'[2026/11/29 03:28:29]  notice:   banner   = nwipe 0.33\n'
    b'[2026/11/29 03:28:29]  notice:   prng     = Isaac64\n'
    b'[2026/11/29 03:28:29]  notice:   method   = Fill With Zeros\n'
    b'[2026/11/29 03:28:29]  notice:   quiet    = 0\n'
    b'[2026/11/29 03:28:29]  notice:   rounds   = 1\n'
    b'[2026/11/29 03:28:29]  notice:   sync     = 100000\n'
    b'[2026/11/29 03:28:29]  notice:   verify   = 1 (last pass)\n'
    b'[2026/11/29 03:28:29]  notice: /dev/loop0 has serial number   \xa8l\xb2\x7f\n'
    b'[2026/11/29 03:28:29]  notice: /dev/loop0, sect/blk/dev 512/4096/8388608\n'
    b"[2026/11/29 03:28:29]  notice: Invoking method 'Fill With Zeros' on /dev/loop0\n"
    b'[2026/11/29 03:28:29]  notice: Starting round 1 of 1 on /dev/loop0\n'
    b'[2026/11/29 03:28:29]  notice: Starting pass 1/1, round 1/1, on /dev/loop0\n'
    b'[2026/11/29 03:28:29]  notice: 8388608 bytes written to /dev/loop0\n'
    b'[2026/11/29 03:28:29]  notice: Finished pass 1/1, round 1/1, on /dev/loop0\n'
    b'[2026/11/29 03:28:29]  notice: Finished final round 1 of 1 on /dev/loop0\n'
    b'[2026/11/29 03:28:29]  notice: Blanking device /dev/loop0\n'
    b'[2026/11/29 03:28:29]  notice: 8388608 bytes written to /dev/loop0\n'
    b'[2026/11/29 03:28:29]  notice: Verifying that /dev/loop0 is empty.\n'
    b'[2026/11/29 03:28:29]  notice: 8388608 bytes read from /dev/loop0\n'
    b'[2026/11/29 03:28:29]  notice: [SUCCESS] Verified that /dev/loop0 is empty.\n'
    b'[2026/11/29 03:28:29]  notice: [SUCCESS] Blanked device /dev/loop0\n'
    b'\n'
    b'******************************** Error Summary *********************************\n'
    b'!   Device | Pass Errors | Verifications Errors | Fdatasync I\\O Errors\n'
    b'--------------------------------------------------------------------------------\n'
    b'     loop0 |           0 |                    0 |                    0\n'
    b'********************************************************************************\n'
    b'\n'
    b'********************************* Drive Status *********************************\n'
    b'!   Device | Status | Thru-put | HH:MM:SS | Model/Serial Number\n'
    b'--------------------------------------------------------------------------------\n'
    b'     loop0 | Erased |   0 B/s | 00:00:00 | Loopback device/  \xa8l\xb2\x7f\n'
    b'--------------------------------------------------------------------------------\n'
    b'[2026/11/29 03:28:31] Total Throughput   0 B/s, Fill With Zeros, 1R+B+VL\n'
    b'********************************************************************************\n'
    b'\n'
    b'[2026/11/29 03:28:31]    info: Nwipe successfully completed. See summary table for details.\n'
)

READONLY_FAIL_LOG = (
    b'[2026/11/29 03:28:37] warning: Command not found. Install smartmontools !\n'
    b'[2026/11/29 03:28:37] warning: Command not found. Install smartmontools !\n'
    b'[2026/11/29 03:28:37]  notice: Found /dev/loop0, VIRT, Loopback device,  16 MB, S/N= \xb0\xf7c\x1e\x7f\n'
    b'[2026/11/29 03:28:37] warning: nwipe_log_sysinfo(): dmidecode failed, '
    b'"dmidecode -s bios-version" exit status = 1\n'
    b"[2026/11/29 03:28:37]  notice: Opened entropy source '/dev/urandom'.\n"
    b'[2026/11/29 03:28:37] warning: modprobe command not found. Install kmod package (modprobe)) !\n'
    b'[2026/11/29 03:28:37] warning: Most temperature monitoring may be unavailable as module drivetemp\n'
    b'[2026/11/29 03:28:37] warning: could not be loaded. drivetemp is not available on kernels < v5.5\n'
    b'[2026/11/29 03:28:37]  notice: hwmon: Module drivetemp loaded, drive temperatures available\n'
    b'[2026/11/29 03:28:37]  notice: Program options are set as follows...\n'
    b'[2026/11/29 03:28:37]  notice:   autonuke = 1 (on)\n'
    b'[2026/11/29 03:28:37]  notice:   autopoweroff = 0 (off)\n'
    b'[2026/11/29 03:28:37]  notice:   do not wait for a key before exiting\n'
    b'[2026/11/29 03:28:37]  notice:   do not show GUI interface\n'
    b'[2026/11/29 03:28:37]  notice:   banner   = nwipe 0.33\n'
    b'[2026/11/29 03:28:37]  notice:   prng     = Isaac64\n'
    b'[2026/11/29 03:28:37]  notice:   method   = PRNG Stream\n'
    b'[2026/11/29 03:28:37]  notice:   quiet    = 0\n'
    b'[2026/11/29 03:28:37]  notice:   rounds   = 1\n'
    b'[2026/11/29 03:28:37]  notice:   sync     = 100000\n'
    b'[2026/11/29 03:28:37]  notice:   verify   = 2 (all passes)\n'
    b'[2026/11/29 03:28:37]  notice: /dev/loop0 has serial number  \xb0\xf7c\x1e\x7f\n'
    b'[2026/11/29 03:28:37]  notice: /dev/loop0, sect/blk/dev 512/4096/16777216\n'
    b"[2026/11/29 03:28:37]  notice: Invoking method 'PRNG Stream' on /dev/loop0\n"
    b'[2026/11/29 03:28:37]  notice: Starting round 1 of 1 on /dev/loop0\n'
    b'[2026/11/29 03:28:37]  notice: Starting pass 1/1, round 1/1, on /dev/loop0\n'
    b'[2026/11/29 03:28:37]  notice: Initialising ISAAC-64 prng\n'
    b'[2026/11/29 03:28:37]  notice: prng stream is active\n'
    b'[2026/11/29 03:28:37]   error: nwipe_random_pass: write: Operation not permitted\n'
    b"[2026/11/29 03:28:37]   fatal: Unable to read from '/dev/loop0'.\n"
    b'[2026/11/29 03:28:37]  notice: 0 bytes written to /dev/loop0\n'
    b'[2026/11/29 03:28:39]   fatal: Nwipe exited with errors on device = /dev/loop0, see log for specific error\n'
    b'\n'
    b'[2026/11/29 03:28:39]   debug: Status: /dev/loop0, result=-1, pass_errors=1, verify_errors=0, fsync_errors=0\n'
    b'\n'
    b'******************************** Error Summary *********************************\n'
    b'!   Device | Pass Errors | Verifications Errors | Fdatasync I\\O Errors\n'
    b'--------------------------------------------------------------------------------\n'
    b'!    loop0 |           1 |                    0 |                    0\n'
    b'********************************************************************************\n'
    b'\n'
    b'********************************* Drive Status *********************************\n'
    b'!   Device | Status | Thru-put | HH:MM:SS | Model/Serial Number\n'
    b'--------------------------------------------------------------------------------\n'
    b'!    loop0 |-FAILED-|   0 B/s | 00:00:00 | Loopback device/ \xb0\xf7c\x1e\x7f\n'
    b'--------------------------------------------------------------------------------\n'
    b'[2026/11/29 03:28:39] Total Throughput   0 B/s, PRNG Stream, 1R+B+VA\n'
    b'********************************************************************************\n'
    b'\n'
    b'[2026/11/29 03:28:39]    info: Nwipe exited with errors, '
    b'check the log & summary table for individual drive status.\n'
)

ZERO_SHA256 = "0b5619ce106a2b154f51db67eb2a2d0d096a6943d3e0e838302a4ddba92d9bef"
READONLY_SHA256 = "9e1f9e997bc617a41b4c61ea0f06b3eba263e7b4750d84d1e596bf6b80f9d513"
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "nwipe"


def lines_of(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def refusal(data: bytes, filename: str = "") -> WipeLogError:
    with pytest.raises(WipeLogError) as caught:
        parse_nwipe_log(data, filename)
    return caught.value


# -- the real samples -------------------------------------------------------------------------------


def test_embedded_samples_are_the_shared_files_byte_for_byte():
    assert hashlib.sha256(ZERO_1DISK_LOG).hexdigest() == ZERO_SHA256
    assert hashlib.sha256(READONLY_FAIL_LOG).hexdigest() == READONLY_SHA256
    assert (SAMPLES_DIR / "nwipe-zero-1disk.log").read_bytes() == ZERO_1DISK_LOG
    assert (SAMPLES_DIR / "nwipe-readonly-fail.log").read_bytes() == READONLY_FAIL_LOG


def test_zero_fill_sample_is_one_verified_passed_disk():
    log = parse_nwipe_log(ZERO_1DISK_LOG, "nwipe-zero-1disk.log")

    assert log.filename == "nwipe-zero-1disk.log"
    assert log.sha256 == ZERO_SHA256
    assert log.size_bytes == 3460
    assert log.nwipe_version == "0.33"
    assert log.banner == "nwipe 0.33"
    assert log.host == {}  # dmidecode failed on that machine
    assert log.runs == 1
    assert log.warnings == () and log.error_messages == () and log.unwiped_devices == ()
    (disk,) = log.disks
    assert disk.device == "/dev/loop0"
    assert disk.model == "Loopback device"
    assert disk.bus == "VIRT"
    assert disk.size_bytes == 8388608 and disk.size_exact is True
    assert disk.method == "Fill With Zeros" and disk.method_key == "zero"
    assert disk.nist_category == CLEAR
    assert disk.pattern == "0x00"
    assert disk.prng is None  # a zero fill uses no PRNG, whatever the options say
    assert disk.rounds == 1 and disk.passes_per_round == 1
    assert disk.verification == "last" and disk.verified is True
    assert disk.blanking is True
    assert disk.status == "passed" and disk.raw_status == "Erased"
    assert disk.started_at == datetime(2026, 11, 29, 3, 28, 29)
    assert disk.ended_at == datetime(2026, 11, 29, 3, 28, 29)
    assert disk.duration_seconds == 0
    assert disk.timezone_known is False and disk.started_at.tzinfo is None
    assert disk.bytes_erased == 8388608  # the largest single pass: the whole disk
    assert disk.bytes_written == 2 * 8388608  # the zero pass and the blanking pass
    assert disk.bytes_verified == 8388608
    assert disk.throughput_bytes_per_second == 0 and disk.throughput_text == "0 B/s"
    assert (disk.pass_errors, disk.verify_errors, disk.fsync_errors) == (0, 0, 0)
    assert disk.errors == 0
    assert disk.nwipe_version == "0.33"
    assert disk.summary_line == 46
    assert disk.messages == () and disk.concerns == ()


def test_zero_fill_sample_keeps_the_garbled_serial_bytes_and_flags_them():
    (disk,) = parse_nwipe_log(ZERO_1DISK_LOG).disks

    # "S/N=  \xa8l\xb2\x7f": two blanks of padding, then four bytes of uninitialised memory.
    assert disk.serial_raw == b"\xa8l\xb2\x7f"
    assert disk.serial == "\\xa8l\\xb2\\x7f"
    assert disk.serial_readable is False


def test_readonly_sample_is_a_failed_prng_wipe_with_its_error_lines():
    log = parse_nwipe_log(READONLY_FAIL_LOG, "nwipe-readonly-fail.log")

    assert log.sha256 == READONLY_SHA256
    (disk,) = log.disks
    assert disk.device == "/dev/loop0"
    assert disk.model == "Loopback device"
    assert disk.serial_raw == b"\xb0\xf7c\x1e\x7f" and disk.serial == "\\xb0\\xf7c\\x1e\\x7f"
    assert disk.serial_readable is False
    assert disk.size_bytes == 16777216
    assert disk.method == "PRNG Stream" and disk.method_key == "random"
    assert disk.nist_category == CLEAR
    assert disk.prng == "Isaac64"
    assert disk.verification == "all" and disk.verified is None  # it never got as far as verifying
    assert disk.status == "failed" and disk.raw_status == "-FAILED-"
    assert disk.started_at == datetime(2026, 11, 29, 3, 28, 37)
    assert disk.ended_at == datetime(2026, 11, 29, 3, 28, 37)
    assert disk.bytes_erased == 0 and disk.bytes_written == 0
    assert (disk.pass_errors, disk.verify_errors, disk.fsync_errors) == (1, 0, 0)
    assert disk.errors == 1
    assert [(m.line, m.level) for m in disk.messages] == [(29, "error"), (30, "fatal"), (32, "fatal")]
    assert disk.messages[0].text == "nwipe_random_pass: write: Operation not permitted"
    assert disk.messages[1].text == "Unable to read from '/dev/loop0'."
    assert [m.line for m in log.error_messages] == [29, 30, 32]


def test_two_runs_appended_to_one_log_give_one_result_each():
    log = parse_nwipe_log(ZERO_1DISK_LOG + READONLY_FAIL_LOG)

    assert log.runs == 2
    first, second = log.disks
    assert (first.status, first.size_bytes, first.serial_raw) == ("passed", 8388608, b"\xa8l\xb2\x7f")
    assert (second.status, second.size_bytes, second.serial_raw) == ("failed", 16777216, b"\xb0\xf7c\x1e\x7f")
    assert second.method == "PRNG Stream" and second.summary_line == 51 + 45
    assert first.messages == ()  # the second run's errors are not the first run's


def test_serial_holding_a_newline_byte_is_read_across_lines():
    # nwipe 0.33 prints serial buffers unfiltered, so a 0x0A byte splits three lines of the log.
    data = ZERO_1DISK_LOG.replace(b"\xa8l\xb2\x7f", b"\xa8\n\xb2\x7f")
    (disk,) = parse_nwipe_log(data).disks

    assert disk.serial_raw == b"\xa8\n\xb2\x7f"
    assert disk.serial == "\\xa8\\x0a\\xb2\\x7f"
    assert disk.status == "passed" and disk.concerns == ()


def test_windows_line_endings_change_nothing_but_the_fingerprint():
    data = ZERO_1DISK_LOG.replace(b"\n", b"\r\n")
    log = parse_nwipe_log(data)

    assert log.sha256 == hashlib.sha256(data).hexdigest() != ZERO_SHA256
    assert log.disks[0].serial_raw == b"\xa8l\xb2\x7f" and log.disks[0].status == "passed"


def test_explicit_utc_offset_in_timestamps_gives_aware_times():
    data = ZERO_1DISK_LOG.replace(b"03:28:29]", b"03:28:29 +0100]")
    (disk,) = parse_nwipe_log(data).disks

    assert disk.timezone_known is True
    assert disk.started_at == datetime(2026, 11, 29, 2, 28, 29, tzinfo=UTC)


def test_short_overwrite_is_reported_as_a_concern_on_a_passed_disk():
    data = ZERO_1DISK_LOG.replace(b"8388608 bytes written", b"4194304 bytes written")
    (disk,) = parse_nwipe_log(data).disks

    assert disk.status == "passed"  # nwipe's verdict is kept as printed...
    assert disk.concerns == ("only 4194304 of 8388608 bytes were overwritten",)  # ...but not trusted blindly



def _with_lines_after_found(log: bytes, lines: bytes) -> bytes:
    """The log with ``lines`` (nwipe >= 0.34's HPA/DCO report) right after the disk's "Found" line."""
    head, found, rest = log.partition(b"S/N=  \xa8l\xb2\x7f\n")
    return head + found + lines + rest


def test_a_hidden_area_nwipe_detected_makes_a_passed_disk_doubtful():
    # nwipe 0.34+ reports HPA/DCO; it overwrites only the sectors the drive exposes.
    data = _with_lines_after_found(ZERO_1DISK_LOG, (
        b"[2026/11/29 03:28:29]    info: HPA:  max sectors   = 16384/32768, accessible max address enabled\n"
        b" on /dev/loop0\n"
        b"[2026/11/29 03:28:29]    info: HPA values 16384 / 32768 on /dev/loop0\n"
        b"[2026/11/29 03:28:29] warning: HIDDEN AREA DETECTED! on /dev/loop0\n"
        b"[2026/11/29 03:28:29]    info:\n"))
    (disk,) = parse_nwipe_log(data).disks

    assert disk.status == "passed"
    assert disk.concerns == ("nwipe detected a hidden area (HPA/DCO) on this device at line 7: its sectors "
                             "were not overwritten",)


def test_no_hidden_area_and_an_undetermined_one_raise_no_concern():
    # A USB bridge hides the answer: nwipe cannot tell, and neither can we — the wipe stands on its other checks.
    data = _with_lines_after_found(ZERO_1DISK_LOG, (
        b"[2026/11/29 03:28:29] warning: HIDDEN AREA INDETERMINATE! on /dev/loop0, are you using a USB bridge "
        b"or memory stick?\n"
        b"[2026/11/29 03:28:29]    info: No hidden sectors on /dev/loop0\n"))
    (disk,) = parse_nwipe_log(data).disks

    assert (disk.status, disk.concerns) == ("passed", ())


# -- several disks in one run -----------------------------------------------------------------------

# Shaped on nwipe 0.35's output: device type padded to 8 characters with an "-SSD" suffix, the OS
# version wrapped at a fixed width, the model cut to 17 bytes in the summary table.
MULTI_DISK_LOG = b"""\
[2024/03/12 09:14:02]    info: nwipe 0.35
[2024/03/12 09:14:02]    info: Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Deb
                               ian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREE
                               MPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)
[2024/03/12 09:14:03]  notice: Found /dev/sda,  ATA-SSD, Samsung SSD 860 EVO 500GB,  500 GB, S/N=S3Z9NB0K123456A
[2024/03/12 09:14:03]    info:  
[2024/03/12 09:14:03]  notice: Found /dev/sdb,  ATA    , WDC WD10EZEX-08WN4A0, 1000 GB, S/N=WD-WCC6Y3XXXXXX
[2024/03/12 09:14:03]    info:  
[2024/03/12 09:14:04]  notice: Found /dev/sdc,  USB    , SanDisk Cruzer Blade,   15 GB, S/N=4C530001234567890123
[2024/03/12 09:14:04]    info:  
[2024/03/12 09:14:04]  notice: Found /dev/nvme0n1, NVME    , KINGSTON SNV2S250G,  250 GB, S/N=50026B7785A1B2C3
[2024/03/12 09:14:04]    info:  
[2024/03/12 09:14:04]    info: bios-version = 1.21.0
[2024/03/12 09:14:04]    info: system-manufacturer = Dell Inc.
[2024/03/12 09:14:04]    info: system-product-name = OptiPlex 7050
[2024/03/12 09:14:04]    info: system-serial-number = 7XK2Q42
[2024/03/12 09:14:04]  notice: Opened entropy source '/dev/urandom'.
[2024/03/12 09:14:04]  notice: Program options are set as follows...
[2024/03/12 09:14:04]  notice:   autonuke = 0 (off)
[2024/03/12 09:14:04]  notice:   autopoweroff = 0 (off)
[2024/03/12 09:14:04]  notice:   banner   = nwipe 0.35
[2024/03/12 09:14:04]  notice:   prng     = Isaac64
[2024/03/12 09:14:04]  notice:   method   = DoD Short
[2024/03/12 09:14:04]  notice:   quiet    = 0
[2024/03/12 09:14:04]  notice:   rounds   = 1
[2024/03/12 09:14:04]  notice:   sync     = 100000
[2024/03/12 09:14:04]  notice:   verify   = 1 (last pass)
[2024/03/12 09:15:10]  notice: /dev/sda has serial number S3Z9NB0K123456A
[2024/03/12 09:15:10]  notice: /dev/sda, sect/blk/dev 512/4096/500107862016
[2024/03/12 09:15:10]  notice: /dev/sdb has serial number WD-WCC6Y3XXXXXX
[2024/03/12 09:15:10]  notice: /dev/sdb, sect/blk/dev 512/4096/1000204886016
[2024/03/12 09:15:10]  notice: /dev/nvme0n1 has serial number 50026B7785A1B2C3
[2024/03/12 09:15:10]  notice: /dev/nvme0n1, sect/blk/dev 512/4096/250059350016
[2024/03/12 09:15:10]  notice: Invoking method 'DoD Short' on /dev/sda
[2024/03/12 09:15:10]  notice: Starting round 1 of 1 on /dev/sda
[2024/03/12 09:15:10]  notice: Starting pass 1/3, round 1/1, on /dev/sda
[2024/03/12 09:15:10]  notice: Invoking method 'DoD Short' on /dev/sdb
[2024/03/12 09:15:10]  notice: Starting round 1 of 1 on /dev/sdb
[2024/03/12 09:15:10]  notice: Starting pass 1/3, round 1/1, on /dev/sdb
[2024/03/12 09:15:11]  notice: Invoking method 'DoD Short' on /dev/nvme0n1
[2024/03/12 09:15:11]  notice: Starting round 1 of 1 on /dev/nvme0n1
[2024/03/12 09:15:11]  notice: Starting pass 1/3, round 1/1, on /dev/nvme0n1
[2024/03/12 09:38:20]  notice: 500107862016 bytes written to /dev/sda
[2024/03/12 09:38:20]  notice: Finished pass 1/3, round 1/1, on /dev/sda
[2024/03/12 09:38:20]  notice: Starting pass 2/3, round 1/1, on /dev/sda
[2024/03/12 10:01:30]  notice: 500107862016 bytes written to /dev/sda
[2024/03/12 10:01:30]  notice: Finished pass 2/3, round 1/1, on /dev/sda
[2024/03/12 10:01:30]  notice: Starting pass 3/3, round 1/1, on /dev/sda
[2024/03/12 10:01:30]  notice: Initialising Isaac64 prng
[2024/03/12 10:01:30]  notice: prng stream is active
[2024/03/12 10:24:41]  notice: 500107862016 bytes written to /dev/sda
[2024/03/12 10:24:41]  notice: Finished pass 3/3, round 1/1, on /dev/sda
[2024/03/12 10:24:41]  notice: Finished final round 1 of 1 on /dev/sda
[2024/03/12 10:24:41]  notice: Blanking device /dev/sda
[2024/03/12 10:36:16]  notice: 500107862016 bytes written to /dev/sda
[2024/03/12 10:36:16]  notice: Verifying that /dev/sda is empty.
[2024/03/12 10:47:51]  notice: 500107862016 bytes read from /dev/sda
[2024/03/12 10:47:51]  notice: [SUCCESS] Verified that /dev/sda is empty.
[2024/03/12 10:47:51]  notice: [SUCCESS] Blanked device /dev/sda
[2024/03/12 12:10:02]  notice: 1000204886016 bytes written to /dev/sdb
[2024/03/12 12:10:02]  notice: Finished pass 1/3, round 1/1, on /dev/sdb
[2024/03/12 12:10:02]  notice: Starting pass 2/3, round 1/1, on /dev/sdb
[2024/03/12 14:33:40]  notice: 1000204886016 bytes written to /dev/sdb
[2024/03/12 14:33:40]  notice: Finished pass 2/3, round 1/1, on /dev/sdb
[2024/03/12 14:33:40]  notice: Starting pass 3/3, round 1/1, on /dev/sdb
[2024/03/12 14:33:40]  notice: Initialising Isaac64 prng
[2024/03/12 14:33:40]  notice: prng stream is active
[2024/03/12 16:57:12]  notice: 1000204886016 bytes written to /dev/sdb
[2024/03/12 16:57:12]  notice: Finished pass 3/3, round 1/1, on /dev/sdb
[2024/03/12 16:57:12]  notice: Finished final round 1 of 1 on /dev/sdb
[2024/03/12 16:57:12]  notice: Blanking device /dev/sdb
[2024/03/12 17:56:40]  notice: 1000204886016 bytes written to /dev/sdb
[2024/03/12 17:56:40]  notice: Verifying that /dev/sdb is empty.
[2024/03/12 18:56:17]  notice: 1000204886016 bytes read from /dev/sdb
[2024/03/12 18:56:17]  notice: [FAILURE] /dev/sdb Verification errors, not empty
[2024/03/12 18:56:17]  notice: [FAILURE] /dev/sdb may not be blanked
[2024/03/12 18:56:17]   error: 12 verification errors on '/dev/sdb'.
[2024/03/12 18:58:00]    info: Signal 2 received
[2024/03/12 18:58:00]    info: Exit in progress
[2024/03/12 18:58:00]    info: Requesting wipe thread cancellation for /dev/nvme0n1
[2024/03/12 18:58:03]    info: Wipe thread for device /dev/nvme0n1 has been cancelled

******************************** Error Summary *********************************
!   Device | Pass Errors | Verifications Errors | Fdatasync I\\O Errors
--------------------------------------------------------------------------------
       sda |           0 |                    0 |                    0
!      sdb |           0 |                   12 |                    0
   nvme0n1 |           0 |                    0 |                    0
********************************************************************************

********************************* Drive Status *********************************
!   Device | Status | Thru-put | HH:MM:SS | Model/Serial Number
--------------------------------------------------------------------------------
       sda | Erased | 180 MB/s | 01:32:41 | Samsung SSD 860 E/S3Z9NB0K123456A
!      sdb |-FAILED-| 115 MB/s | 09:41:07 | WDC WD10EZEX-08WN/WD-WCC6Y3XXXXXX
!  nvme0n1 |UABORTED|   8 MB/s | 09:42:49 | KINGSTON SNV2S250/50026B7785A1B2C3
--------------------------------------------------------------------------------
[2024/03/12 18:58:03] Total Throughput  303 MB/s, DoD Short, 1R+B+VL
********************************************************************************

[2024/03/12 18:58:03]    info: Nwipe exited with errors, check the log & summary table for individual drive status.
"""


def test_multi_disk_log_gives_one_result_per_wiped_disk_in_table_order():
    log = parse_nwipe_log(MULTI_DISK_LOG, "rack-2024-03-12.log")

    assert log.nwipe_version == "0.35"
    assert [d.device for d in log.disks] == ["/dev/sda", "/dev/sdb", "/dev/nvme0n1"]
    assert [d.status for d in log.disks] == ["passed", "failed", "aborted"]
    assert [d.raw_status for d in log.disks] == ["Erased", "-FAILED-", "UABORTED"]
    assert log.unwiped_devices == ("/dev/sdc",)  # found, but not selected for wiping
    assert log.host == {
        "bios-version": "1.21.0",
        "system-manufacturer": "Dell Inc.",
        "system-product-name": "OptiPlex 7050",
        "system-serial-number": "7XK2Q42",
    }
    assert log.os_info == (
        "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
        "GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"
    )
    for disk in log.disks:
        assert disk.method == "DoD Short" and disk.nist_category == CLEAR
        assert disk.rounds == 1 and disk.passes_per_round == 3
        assert disk.verification == "last" and disk.blanking is True and disk.prng == "Isaac64"
        assert disk.serial_readable is True


def test_multi_disk_passed_ssd_has_full_model_serial_and_times():
    sda = parse_nwipe_log(MULTI_DISK_LOG).disks[0]

    assert sda.model == "Samsung SSD 860 EVO 500GB"  # from the Found line, not the 17-byte cut
    assert sda.serial == "S3Z9NB0K123456A" and sda.serial_raw == b"S3Z9NB0K123456A"
    assert sda.bus == "ATA" and sda.kind_hint == "ssd"
    assert sda.size_bytes == 500107862016 and sda.size_exact is True
    assert sda.started_at == datetime(2024, 3, 12, 9, 15, 10)
    assert sda.duration_seconds == 1 * 3600 + 32 * 60 + 41
    assert sda.ended_at == datetime(2024, 3, 12, 10, 47, 51)
    assert sda.bytes_erased == 500107862016
    assert sda.bytes_written == 4 * 500107862016 and sda.bytes_verified == 500107862016
    assert sda.throughput_bytes_per_second == 180_000_000
    assert sda.verified is True and sda.errors == 0
    assert sda.messages == () and sda.concerns == ()


def test_multi_disk_failed_disk_carries_its_verification_errors_only():
    sdb = parse_nwipe_log(MULTI_DISK_LOG).disks[1]

    assert sdb.serial == "WD-WCC6Y3XXXXXX" and sdb.model == "WDC WD10EZEX-08WN4A0"
    assert sdb.kind_hint is None  # a spinning disk is not flagged by nwipe: no guess is made
    assert (sdb.pass_errors, sdb.verify_errors, sdb.fsync_errors) == (0, 12, 0)
    assert sdb.verified is False
    assert [m.text for m in sdb.messages] == ["12 verification errors on '/dev/sdb'."]
    assert sdb.ended_at == datetime(2024, 3, 12, 18, 56, 17)


def test_multi_disk_aborted_nvme_is_aborted_not_failed():
    nvme = parse_nwipe_log(MULTI_DISK_LOG).disks[2]

    assert nvme.status == "aborted" and nvme.raw_status == "UABORTED"
    assert nvme.bus == "NVME" and nvme.kind_hint == "nvme"
    assert nvme.serial == "50026B7785A1B2C3" and nvme.size_bytes == 250059350016
    assert nvme.bytes_erased is None and nvme.bytes_written == 0
    assert nvme.errors == 0 and nvme.messages == ()
    assert nvme.ended_at - nvme.started_at == timedelta(hours=9, minutes=42, seconds=49)


def test_insanity_status_is_kept_apart_from_pass_and_fail():
    data = MULTI_DISK_LOG.replace(b"       sda | Erased |", b"       sda |INSANITY|")
    sda = parse_nwipe_log(data).disks[0]

    assert sda.status == "insanity" and sda.raw_status == "INSANITY"


def test_interrupted_earlier_run_is_reported_and_the_later_run_kept():
    lines = lines_of(ZERO_1DISK_LOG)
    crashed = lines[:27]  # power cut during the first pass: no summary was ever printed
    log = parse_nwipe_log(join(crashed) + READONLY_FAIL_LOG)

    assert [d.status for d in log.disks] == ["failed"]
    assert log.warnings == (
        "the wipe of /dev/loop0 started at line 24 was interrupted before nwipe printed its summary; "
        "no result is recorded for it",
    )



SECURE_ERASE_LOG = b"""\
[2026/02/03 14:00:01]    info: nwipe 0.40
[2026/02/03 14:00:02]  notice: Found /dev/nvme0n1, NVME-SSD, Samsung SSD 970 EVO Plus 1TB, 1000 GB, S/N=S4EWNX0R812345K
[2026/02/03 14:00:02]  notice: Program options are set as follows...
[2026/02/03 14:00:02]  notice:   autonuke = 1 (on)
[2026/02/03 14:00:02]  notice:   banner   = nwipe 0.40
[2026/02/03 14:00:02]  notice:   prng     = Isaac64
[2026/02/03 14:00:02]  notice:   method   = Secure Erase (ATA/NVMe)
[2026/02/03 14:00:02]  notice:   rounds   = 1
[2026/02/03 14:00:02]  notice:   verify   = 1 (last pass)
[2026/02/03 14:00:03]  notice: /dev/nvme0n1, sect/blk/dev 512/4096/1000204886016
[2026/02/03 14:00:03]  notice: Attempting NVMe Secure Erase on /dev/nvme0n1 (NVME-SSD).
[2026/02/03 14:00:41]  notice: Secure erase completed for /dev/nvme0n1, starting zero verification pass.

******************************** Error Summary *********************************
!   Device | Pass Errors | Verifications Errors | Fdatasync I\\O Errors
--------------------------------------------------------------------------------
   nvme0n1 |           0 |                    0 |                    0
********************************************************************************

********************************* Drive Status *********************************
!   Device | Status | Thru-put | HH:MM:SS | Model/Serial Number
--------------------------------------------------------------------------------
   nvme0n1 | Erased |    3 GB/s | 00:06:12 | Samsung SSD 970 E/S4EWNX0R812345K
--------------------------------------------------------------------------------
[2026/02/03 14:06:15] Total Throughput    3 GB/s, Secure Erase (ATA/NVMe), 1R+B+VL
********************************************************************************
"""


def test_firmware_secure_erase_is_a_purge_started_by_its_attempt_line():
    (disk,) = parse_nwipe_log(SECURE_ERASE_LOG).disks

    assert disk.method == "Secure Erase (ATA/NVMe)" and disk.method_key == "secure_erase"
    assert disk.nist_category == PURGE
    assert disk.status == "passed" and disk.kind_hint == "nvme" and disk.bus == "NVME"
    assert disk.started_at == datetime(2026, 2, 3, 14, 0, 3)
    assert disk.ended_at == datetime(2026, 2, 3, 14, 6, 15)
    assert disk.bytes_erased is None  # the drive erased itself: nwipe wrote nothing
    assert disk.throughput_bytes_per_second == 3_000_000_000
    assert disk.prng is None and disk.passes_per_round is None
    assert disk.concerns == ()


# nwipe 0.31's layout (from the maintainers' example in PR #325): no bus in the Found line, sizes
# without a space, a two-column Error Summary, an empty serial, no Fdatasync count yet.
NWIPE_031_LOG = b"""\
[2021/06/04 21:41:10]  notice: Found /dev/loop44, Loopback device, 31MB, S/N=
[2021/06/04 21:41:10]  notice: Program options are set as follows...
[2021/06/04 21:41:10]  notice:   autonuke = 1 (on)
[2021/06/04 21:41:10]  notice:   do not perform a final blank pass
[2021/06/04 21:41:10]  notice:   banner   = nwipe 0.31
[2021/06/04 21:41:10]  notice:   prng     = Isaac
[2021/06/04 21:41:10]  notice:   method   = PRNG Stream
[2021/06/04 21:41:10]  notice:   rounds   = 1
[2021/06/04 21:41:10]  notice:   sync     = 100000
[2021/06/04 21:41:10]  notice:   verify   = 0 (off)
[2021/06/04 21:41:12]  notice: /dev/loop44, sect/blk/dev 512/4096/31457280
[2021/06/04 21:41:12]  notice: Invoking method 'PRNG Stream' on /dev/loop44
[2021/06/04 21:41:12]  notice: Starting round 1 of 1 on /dev/loop44
[2021/06/04 21:41:12]  notice: Starting pass 1/1, round 1/1, on /dev/loop44
[2021/06/04 21:41:12]  notice: Initialising Isaac prng
[2021/06/04 21:41:12]  notice: prng stream is active
[2021/06/04 21:41:13]  notice: 31457280 bytes written to /dev/loop44
[2021/06/04 21:41:13]  notice: Finished pass 1/1, round 1/1, on /dev/loop44
[2021/06/04 21:41:13]  notice: Finished final round 1 of 1 on /dev/loop44

******************************** Error Summary *********************************
! Device | Pass Errors | Verifications Errors |
--------------------------------------------------------------------------------
  loop44 |           0 |                    0 |
********************************************************************************

********************************* Drive Status *********************************
! Device | Status | Thru-put | HH:MM:SS | Model/Serial Number
--------------------------------------------------------------------------------
  loop44 | Erased |  31 MB/s | 00:00:01 | Loopback device/
--------------------------------------------------------------------------------
[2021/06/04 21:41:17] Total Throughput  31 MB/s, PRNG Stream, 1R+NB+NV
********************************************************************************
"""


def test_nwipe_031_layout_is_read():
    log = parse_nwipe_log(NWIPE_031_LOG)
    (disk,) = log.disks

    assert log.nwipe_version == "0.31"
    assert (disk.device, disk.model, disk.bus) == ("/dev/loop44", "Loopback device", None)
    assert disk.serial == "" and disk.serial_readable is False
    assert disk.size_bytes == 31457280 and disk.bytes_erased == 31457280
    assert (disk.verification, disk.verified, disk.blanking) == ("none", None, False)
    assert disk.prng == "Isaac" and disk.status == "passed"
    assert (disk.pass_errors, disk.verify_errors, disk.fsync_errors) == (0, 0, None)
    assert disk.throughput_bytes_per_second == 31_000_000
    assert disk.ended_at == datetime(2021, 6, 4, 21, 41, 13) and disk.concerns == ()

# -- logs that must be refused ----------------------------------------------------------------------


def test_log_cut_before_the_summary_is_refused_at_its_last_line():
    cut = join(lines_of(ZERO_1DISK_LOG)[:35])
    error = refusal(cut, "cut.log")

    assert error.line == 35
    assert "ends before nwipe's summary of the wipe of /dev/loop0 started at line 24" in error.reason
    assert str(error).startswith("cut.log: line 35: ")


def test_log_cut_inside_the_drive_status_table_is_refused():
    cut = join(lines_of(ZERO_1DISK_LOG)[:46])

    error = refusal(cut)
    assert error.line == 46 and "ends inside the Drive Status table" in error.reason


def test_log_cut_mid_row_is_refused_at_that_row():
    lines = lines_of(READONLY_FAIL_LOG)
    lines[44] = lines[44][:24]  # "!    loop0 |-FAILED-|   "
    error = refusal(join(lines))

    assert error.line == 45 and "Drive Status" in error.reason


def test_garbage_is_refused_at_line_one():
    error = refusal(b"Hello,\nthis is not a log\n")
    assert error.line == 1 and "not an nwipe log" in error.reason


def test_binary_data_is_refused_at_the_line_holding_a_nul_byte():
    data = join(lines_of(ZERO_1DISK_LOG)[:3]) + b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n"
    error = refusal(data)
    assert error.line == 6 and "NUL" in error.reason


def test_empty_file_is_refused():
    assert refusal(b"").line == 1
    assert refusal(b"\n\n  \n").line == 1


def test_log_without_any_wipe_is_refused():
    lines = lines_of(ZERO_1DISK_LOG)[:21]  # enumeration and options only: the user quit
    error = refusal(join(lines))
    assert error.line == 21 and "no Drive Status summary" in error.reason


def test_erased_disk_with_counted_errors_is_refused_as_edited():
    data = ZERO_1DISK_LOG.replace(b"     loop0 |           0 |", b"     loop0 |           1 |")
    error = refusal(data)
    assert error.line == 46 and "contradicts the Error Summary" in error.reason


def test_failed_status_edited_into_erased_is_refused():
    data = READONLY_FAIL_LOG.replace(b"|-FAILED-|", b"| Erased |")
    error = refusal(data)
    assert error.line == 45 and "'!' marker" in error.reason


def test_unknown_drive_status_is_refused():
    data = ZERO_1DISK_LOG.replace(b"| Erased |", b"|  Done  |")
    error = refusal(data)
    assert error.line == 46 and "unknown drive status 'Done'" in error.reason


def test_summary_method_differing_from_the_options_is_refused():
    data = ZERO_1DISK_LOG.replace(b"0 B/s, Fill With Zeros, 1R", b"0 B/s, Gutmann Wipe, 1R")
    error = refusal(data)
    assert error.line == 48 and "method 'Gutmann Wipe'" in error.reason


def test_impossible_timestamp_is_refused_at_its_line():
    lines = lines_of(ZERO_1DISK_LOG)
    lines[9] = lines[9].replace(b"2026/11/29", b"2026/13/29")
    assert refusal(join(lines)).line == 10


# -- methods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "key", "category"),
    [
        ("Fill With Zeros", "zero", CLEAR),
        ("Zero Fill", "zero", CLEAR),  # nwipe 0.28's label
        ("Fill With Ones", "one", CLEAR),
        ("PRNG Stream", "random", CLEAR),
        ("DoD Short", "dodshort", CLEAR),
        ("DoD 5220.22-M", "dod522022m", CLEAR),
        ("Gutmann Wipe", "gutmann", CLEAR),
        ("RCMP TSSIT OPS-II", "ops2", CLEAR),
        ("HMG IS5 Enhanced", "is5enh", CLEAR),
        ("Bruce Schneier 7-Pass", "bruce7", CLEAR),
        ("BMB21-2019", "bmb21", CLEAR),
        ("Secure Erase (ATA/NVMe)", "secure_erase", PURGE),
        ("Secure Erase + PRNG + Verify", "secure_erase_prng_verify", PURGE),
        ("Sanitize Crypto Erase (ATA/SCSI/NVMe)", "sanitize_crypto_erase", PURGE),
        ("Sanitize Block Erase (ATA/SCSI/NVMe)", "sanitize_block_erase", PURGE),
        ("Sanitize Overwrite (ATA/SCSI/NVMe)", "sanitize_overwrite", PURGE),
        ("Verify Zeros (0x00)", "verify_zero", None),
        ("Verify Ones  (0xFF)", "verify_one", None),  # nwipe pads this label with two spaces
    ],
)
def test_every_nwipe_method_label_has_its_nist_category(label, key, category):
    method = lookup_method(label)
    assert method is not None and method.key == key and method.nist_category == category


def test_unknown_method_label_has_no_category():
    assert lookup_method("Unknown Method (FIXME)") is None
    assert len({m.key for m in METHODS}) == len(METHODS)


def test_verify_only_run_passes_but_says_it_sanitised_nothing():
    data = ZERO_1DISK_LOG.replace(b"Fill With Zeros", b"Verify Zeros (0x00)")
    (disk,) = parse_nwipe_log(data).disks

    assert disk.status == "passed" and disk.nist_category is None and disk.blanking is False
    assert "method 'Verify Zeros (0x00)' only reads the disk: it sanitises nothing" in disk.concerns
