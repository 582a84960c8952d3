"""Phone number facts from `phonenumbers` metadata: E.164 parsing, number type, region and operator."""

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

SIP_URI_PREFIXES = ("sip:", "sips:")

# Typical post-dial delay before a target's phone starts ringing, by network (the seed's note: mobile and
# satellite networks need extra seconds before the wait for an answer really begins).
DIAL_DELAY_SECONDS = {
    "internal": 0,
    "sip": 2,
    "fixed": 3,
    "mobile": 8,
    "satellite": 20,
}
SATELLITE_COUNTRY_CODES = frozenset({870, 881, 882})


class InvalidPhoneNumber(ValueError):
    """The text is not a valid E.164 phone number."""


@dataclass(frozen=True)
class NumberFacts:
    e164: str
    region: str | None  # ISO 3166 country code, None for non-geographic numbers
    description: str  # geographic description in English, e.g. "Moscow"
    operator: str  # carrier name in English, may be empty
    network: str  # one of DIAL_DELAY_SECONDS' keys except internal/sip


def normalize_e164(text: str, default_country: str | None = None) -> str:
    """Return the canonical E.164 form of `text` or raise InvalidPhoneNumber.

    International forms are accepted with any spacing (`+7 916 123-45-67`). With `default_country` (ISO 3166 code),
    so are the national forms carriers present: for RU `89161234567`, `79161234567`, `8 (916) 123-45-67`.
    """
    international = text.lstrip().startswith("+")
    if not international and default_country is None:
        raise InvalidPhoneNumber(f"{text!r} is not in E.164 form (must start with '+')")
    import phonenumbers  # imported on the first number, not on every cold start (functions that never parse one)

    try:
        parsed = phonenumbers.parse(text, None if international else default_country)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{text!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_sip_uri(text: str) -> bool:
    return text.lower().startswith(SIP_URI_PREFIXES) and "@" in text and len(text) <= 256


@lru_cache(maxsize=4096)
def number_facts(e164: str) -> NumberFacts:
    # Geocoder and carrier data weigh ~0.5 s of imports: load them on the first lookup, not on every cold start.
    import phonenumbers
    from phonenumbers import carrier, geocoder

    parsed = phonenumbers.parse(e164, None)
    region = phonenumbers.region_code_for_number(parsed)
    return NumberFacts(
        e164=e164,
        region=region if region and region != "001" else None,
        description=geocoder.description_for_number(parsed, "en"),
        operator=carrier.name_for_number(parsed, "en"),
        network=_network(parsed),
    )


def _network(parsed: "PhoneNumber") -> str:
    import phonenumbers
    from phonenumbers import PhoneNumberType

    if parsed.country_code in SATELLITE_COUNTRY_CODES:
        return "satellite"
    kind = phonenumbers.number_type(parsed)
    if kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER):
        return "mobile"
    return "fixed"


def dial_delay_for_target(target: str | None) -> int:
    """Network dial delay for an external target: an E.164 number or a SIP URI."""
    if not target:
        return DIAL_DELAY_SECONDS["internal"]
    if is_sip_uri(target):
        return DIAL_DELAY_SECONDS["sip"]
    try:
        return DIAL_DELAY_SECONDS[number_facts(normalize_e164(target)).network]
    except InvalidPhoneNumber:
        return DIAL_DELAY_SECONDS["fixed"]


def operator_prefixes(operator: str) -> int:
    """How many number prefixes phonenumbers' carrier data assigns to `operator` (English name, any case).

    0 means an `operator` caller-list pattern can never match. The data is by number range as allocated: a number
    ported to another carrier keeps its original operator, and some ranges have no carrier at all (RU +7916…).
    """
    return _operator_prefix_counts().get(operator.casefold(), 0)


@lru_cache(maxsize=1)
def _operator_prefix_counts() -> dict[str, int]:
    from phonenumbers.carrierdata import CARRIER_DATA

    counts: dict[str, int] = {}
    for names in CARRIER_DATA.values():
        name = names.get("en")
        if name:
            counts[name.casefold()] = counts.get(name.casefold(), 0) + 1
    return counts
