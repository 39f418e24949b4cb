"""Beneficiary references: codes pass; names, e-mails and phone numbers are refused with a reason."""
import pytest

from asset_tracker.distribution.references import ReferenceRefused, reference_hmac, validate_reference


@pytest.mark.parametrize("ref", ["MC-0042", "EC2026-117", "CCAS/V/88", "b7f3k2"])
def test_pseudonymous_codes_pass(ref):
    assert validate_reference(f" {ref} ", None) == ref


@pytest.mark.parametrize("ref,code", [
    ("Lina Benali", "reference_is_name"), ("JEAN-PIERRE Martin", "reference_is_name"), ("Zoé", "reference_is_name"),
    ("lina@example.org", "reference_is_email"), ("lina (at) example.org", "reference_is_email"),
    ("06 12 34 56 78", "reference_is_phone"), ("+33 6 12 34 56 78", "reference_is_phone"),
    ("06.12.34.56.78", "reference_is_phone"), ("  ", "beneficiary_required"),
])
def test_names_emails_and_phone_numbers_are_refused(ref, code):
    with pytest.raises(ReferenceRefused) as exc:
        validate_reference(ref, None)
    assert exc.value.code == code


def test_the_partners_pattern_applies():
    assert validate_reference("MC-0042", r"^MC-[0-9]{4}$") == "MC-0042"
    with pytest.raises(ReferenceRefused) as exc:
        validate_reference("MC-42", r"^MC-[0-9]{4}$")
    assert exc.value.code == "reference_pattern" and "MC-42" not in exc.value.message


def test_the_keyed_hash_depends_on_the_key():
    assert reference_hmac("MC-0042", "k1") == reference_hmac("MC-0042 ", "k1") != reference_hmac("MC-0042", "k2")
    assert "MC-0042" not in reference_hmac("MC-0042", "k1")
