"""Phone numbers as callers and admins write them: national forms with a default country, any spacing, masks."""

import pytest
from pydantic import ValidationError
from vpbx.domain.directory import CallerList, CallerPattern
from vpbx.domain.phone import InvalidPhoneNumber, normalize_e164, operator_prefixes


@pytest.mark.parametrize(
    "text", ["89161234567", "79161234567", "8 (916) 123-45-67", "+7 916 123-45-67", "9161234567", "+79161234567"]
)
def test_russian_callers_in_every_carrier_format_normalise_with_a_default_country(text: str) -> None:
    assert normalize_e164(text, "RU") == "+79161234567"


def test_without_a_default_country_only_international_forms_are_numbers() -> None:
    assert normalize_e164("+7 916 123-45-67") == "+79161234567"
    with pytest.raises(InvalidPhoneNumber, match=r"E\.164"):
        normalize_e164("89161234567")


def test_a_caller_list_matches_national_forms_of_the_tenants_country() -> None:
    vip = CallerList(id="vip", name="VIP", patterns=[CallerPattern(kind="exact", value="+7 916 123-45-67")])
    assert vip.patterns[0].value == "+79161234567"
    assert vip.matches("89161234567", "RU")
    assert vip.matches("79161234567", "RU")
    assert not vip.matches("89161234567")  # no default country: a national form is not a number
    assert not vip.matches("89161234568", "RU")


def test_prefixes_and_masks_drop_separators() -> None:
    assert CallerPattern(kind="prefix", value="+7 916").value == "+7916"
    assert CallerPattern(kind="mask", value="+7 916 ???-??-??").value == "+7916???????"


@pytest.mark.parametrize(
    ("kind", "value", "syntax"),
    [("mask", "+7916*", "wildcards"), ("prefix", "7916", "starts with"), ("country", "ru", "ISO 3166")],
)
def test_a_bad_pattern_error_states_the_syntax(kind: str, value: str, syntax: str) -> None:
    with pytest.raises(ValidationError, match=syntax):
        CallerPattern.model_validate({"kind": kind, "value": value})


def test_a_bad_exact_number_says_why() -> None:
    with pytest.raises(ValidationError, match="exact pattern"):
        CallerPattern(kind="exact", value="+7 916 12")


def test_operator_names_are_counted_in_the_carrier_data() -> None:
    assert operator_prefixes("Beeline") > 0
    assert operator_prefixes("beeline") == operator_prefixes("Beeline")
    assert operator_prefixes("No Such Telecom") == 0
