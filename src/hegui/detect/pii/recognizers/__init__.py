"""The built-in recognisers, one small class per PII type."""

from hegui.detect.pii.recognizers.address import AddressRecognizer
from hegui.detect.pii.recognizers.contact import EmailRecognizer, LandlineRecognizer, MobileRecognizer
from hegui.detect.pii.recognizers.finance import BankCardRecognizer
from hegui.detect.pii.recognizers.identity import (
    HmtPermitRecognizer,
    PassportRecognizer,
    ResidentIdRecognizer,
    UsccRecognizer,
)
from hegui.detect.pii.recognizers.names import PersonNameRecognizer
from hegui.detect.pii.recognizers.network import IpRecognizer
from hegui.detect.pii.recognizers.secrets import (
    ApiKeyRecognizer,
    GenericSecretRecognizer,
    PrivateKeyRecognizer,
)
from hegui.detect.pii.recognizers.vehicle import LicensePlateRecognizer

BUILTIN_RECOGNIZERS = (
    ResidentIdRecognizer,
    MobileRecognizer,
    LandlineRecognizer,
    BankCardRecognizer,
    EmailRecognizer,
    IpRecognizer,
    PassportRecognizer,
    HmtPermitRecognizer,
    UsccRecognizer,
    LicensePlateRecognizer,
    AddressRecognizer,
    PersonNameRecognizer,
    PrivateKeyRecognizer,
    ApiKeyRecognizer,
    GenericSecretRecognizer,
)

__all__ = [
    "BUILTIN_RECOGNIZERS",
    "AddressRecognizer",
    "ApiKeyRecognizer",
    "BankCardRecognizer",
    "EmailRecognizer",
    "GenericSecretRecognizer",
    "HmtPermitRecognizer",
    "IpRecognizer",
    "LandlineRecognizer",
    "LicensePlateRecognizer",
    "MobileRecognizer",
    "PassportRecognizer",
    "PersonNameRecognizer",
    "PrivateKeyRecognizer",
    "ResidentIdRecognizer",
    "UsccRecognizer",
]
