"""The patient side's errors, in the domain's words: what went wrong, never how a protocol says it.

Each face maps them to its shape: the JSON API (:mod:`app.mes.api`) to RFC 9457 problem details (the token
endpoint to RFC 6749 errors), the pages to an HTML page. ``rule`` names the rule that refused (recorded in the
journal); ``detail`` is the English text and ``french`` the French one the pages show.

Another patient's resource is always :class:`MesNotFound` (a 404, never a 403: existence is not leaked);
:class:`MesForbiddenAction` is only for an action the signed-in person may not take on their own data.
"""

from __future__ import annotations


class MesError(Exception):
    """One refusal of the patient side."""

    def __init__(self, detail: str, *, rule: str, french: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.rule = rule
        self.french = french or detail


class MesNotFound(MesError):
    """No such thing, or one the signed-in person may not know exists (404)."""


class MesInvalid(MesError):
    """A malformed or refused value (400, or 422 when well-formed but against a rule: ``unprocessable``)."""

    def __init__(self, detail: str, *, rule: str, french: str | None = None, unprocessable: bool = False,
                 too_large: bool = False, unsupported: bool = False) -> None:
        super().__init__(detail, rule=rule, french=french)
        self.unprocessable = unprocessable
        self.too_large = too_large
        self.unsupported = unsupported


class MesConflict(MesError):
    """Conflicts with what the store holds now (409): already closed, already blocked, ..."""


class MesForbiddenAction(MesError):
    """An action the person may not take on their own data (403), e.g. blocking their médecin traitant."""


class MesSignInError(MesError):
    """A refused sign-in or token: unknown INS, wrong or expired code, too many tries, bad token.

    ``error`` is the RFC 6749 / RFC 6750 code the API answers with (``invalid_grant``, ``invalid_token``, ...)."""

    def __init__(self, detail: str, *, rule: str, french: str | None = None, error: str = "invalid_grant") -> None:
        super().__init__(detail, rule=rule, french=french)
        self.error = error
