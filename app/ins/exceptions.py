"""The INS domain's errors: what went wrong, the rule that says so, the text, the facts. Pure.

Rules and services raise these and never choose an HTTP status or a protocol shape; each face maps them:

- the SOAP face (:mod:`app.ins.soap.faults`, ``map_error``) to SOAP 1.2 faults with the siram / desir / insi
  codes of the live INSi, HTTP 500 for every fault (docs/ins.md, "HTTP status of the faults");
- the JSON face (:mod:`app.ins.router`, ``problem_of``) to RFC 9457 problem JSON naming the field and the rule
  (400 for a refused value, 503 for INSi's technical fault);
- the control API (:mod:`app.ins.control`, ``control_problem``) to problem JSON 409 / 422 / 404.

The value errors (:class:`TraitError`, :class:`NirError`, :class:`OidError`, :class:`RnivError`) are also
``ValueError``\\ s: pydantic validators of :mod:`app.ins.schemas` report them as validation errors.
"""

from __future__ import annotations


class InsError(Exception):
    """Any refusal of the INS domain: ``rule`` names it (``INSi:charset``, ``NIR:key``, ``INS:exists``, ...),
    ``message`` says it in words, ``field`` names the input it is about (when there is one)."""

    def __init__(self, message: str, *, rule: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.rule, self.field = message, rule, field


# --------------------------------------------------------------------------- refused values (pure rules)


class TraitError(InsError, ValueError):
    """A trait refused by a named rule (:mod:`app.ins.traits`); ``suggestion`` is the INSi-normalised form
    when one exists."""

    def __init__(self, field: str, rule: str, message: str, suggestion: str | None = None) -> None:
        super().__init__(message, rule=rule, field=field)
        self.field: str = field
        self.suggestion = suggestion

    def as_dict(self) -> dict:
        d = {"field": self.field, "rule": self.rule, "message": self.message}
        if self.suggestion is not None:
            d["suggestion"] = self.suggestion
        return d


class NirError(InsError, ValueError):
    """A NIR/NIA refused by a named rule (:mod:`app.ins.nir`)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message, rule=rule)


class OidError(InsError, ValueError):
    """An OID outside the INS catalogue (or not acceptable where it is used)."""

    def __init__(self, oid: str, message: str, rule: str = "INS:oid") -> None:
        super().__init__(message, rule=rule)
        self.oid = oid


class RnivError(InsError, ValueError):
    """An RNIV event the engine cannot read (:mod:`app.ins.rniv`); ``field`` is its place in the list."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message, rule=rule, field=field)
        self.field: str = field


# --------------------------------------------------------------------------- INSi refusals


class IdamRefused(InsError):
    """The software's CNDA authorisation number (``ContexteLPS/LPS/IDAM``) is missing or not accepted:
    ``siram_100`` / ``desir_550`` on the SOAP face (recorded, padoa fake-IDAM fixture)."""

    def __init__(self, idam: str | None) -> None:
        super().__init__(f"unknown IDAM {idam!r}", rule="INSi:IDAM", field="IDAM")
        self.idam = idam


class InsiTechnicalFault(InsError):
    """INSi answers its technical error (``siram_40`` / ``insi_102``, severite ``fatal``): the CNDA 2.03 case 3
    person, a trait outside INSi's character set over SOAP, or an injected fault. ``rule`` says which."""

    def __init__(self, rule: str = "INSi:technical") -> None:
        super().__init__("L'appel au service de recherche avec les traits d'identité renvoie une erreur technique.",
                         rule=rule)


# --------------------------------------------------------------------------- the control API's store


class InsConflict(InsError):
    """A control-API write that collides with what the store holds (``INS:duplicate``, ``INS:exists``,
    ``INS:card-exists``, ``INS:idam-exists``)."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message, rule=rule, field=field)
        self.field: str = field


class BeneficiaryUnknown(InsConflict):
    """A card names a beneficiary INS that is no person of the store (``INS:card-beneficiary``)."""


class NotFound(InsError):
    """A person or an IDAM the control API was asked for is not in the store (``INS:person-unknown``,
    ``INS:idam-unknown``)."""
