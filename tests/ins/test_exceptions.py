"""app.ins.exceptions: every refusal of the domain names its rule and its text, and never an HTTP status."""

from __future__ import annotations

import pytest

from app.ins import exceptions, nir, rniv, traits
from app.ins.exceptions import (
    BeneficiaryUnknown,
    IdamRefused,
    InsConflict,
    InsError,
    InsiTechnicalFault,
    NirError,
    NotFound,
    OidError,
    RnivError,
    TraitError,
)


def test_the_pure_rules_raise_the_domains_errors() -> None:
    assert traits.TraitError is TraitError and nir.NirError is NirError and nir.OidError is OidError
    assert rniv.RnivError is RnivError
    with pytest.raises(TraitError) as trait:
        traits.check_name("adrun", "NomNaissance")
    assert (trait.value.field, trait.value.rule, trait.value.suggestion) == ("NomNaissance", "INSi:charset", "ADRUN")
    with pytest.raises(OidError) as oid:
        nir.check_oid("1.2.3")
    assert oid.value.rule == "INS:oid" and oid.value.oid == "1.2.3"


@pytest.mark.parametrize("error", [
    TraitError("Sexe", "INSi:Sexe", "Sexe is M or F"), NirError("NIR:key", "bad key"),
    OidError("1.2.3", "not an INS OID"), RnivError("0.type", "RNIV:event", "unknown event"),
])
def test_refused_values_are_also_value_errors(error: InsError) -> None:
    """pydantic validators of app.ins.schemas report them as validation errors."""
    assert isinstance(error, ValueError) and isinstance(error, InsError)
    assert error.rule and error.message == str(error)


def test_the_other_refusals() -> None:
    refused = IdamRefused("NOPE")
    assert (refused.rule, refused.field, refused.idam) == ("INSi:IDAM", "IDAM", "NOPE")
    assert InsiTechnicalFault("INSi:injected-fault").rule == "INSi:injected-fault"
    assert InsiTechnicalFault().rule == "INSi:technical"
    conflict = InsConflict("IDAM", "INS:idam-exists", "IDAM X already exists")
    assert (conflict.field, conflict.rule, conflict.message) == ("IDAM", "INS:idam-exists", "IDAM X already exists")
    assert isinstance(BeneficiaryUnknown("BENEFICIAIRES.INS", "INS:card-beneficiary", "..."), InsConflict)
    assert NotFound("no person", rule="INS:person-unknown", field="ins").field == "ins"
    assert not any(hasattr(getattr(exceptions, name), "status") for name in exceptions.__dict__ if name[0].isupper())
