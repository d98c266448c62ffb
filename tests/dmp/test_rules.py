"""Table-driven tests of the DMP access and visibility rules (app/dmp/rules.py)."""

import pytest

from app.dmp.fhir.errors import http_status
from app.dmp.rules import (
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    MASQUE_PS,
    AccessMode,
    Action,
    Authorisation,
    Availability,
    Caller,
    DmpState,
    DocumentView,
    OptOut,
    Role,
    check_access,
    is_visible,
    may_update,
)

A = Authorisation
M = AccessMode
PS = Role.PROFESSIONAL
OPEN = DmpState()
CLOSED = DmpState(open=False)
NO_DMP = DmpState(exists=False)
OPTED_BG = DmpState(opt_outs=frozenset({OptOut.BRIS_DE_GLACE}))
OPTED_15 = DmpState(opt_outs=frozenset({OptOut.CENTRE_15}))
OPTED_ALL = DmpState(opt_outs=frozenset(OptOut))

# (action, dmp, authorisation, blocked, mode, reason) -> (allowed, status, rule)
ACCESS_TABLE = [
    # consultation, normal mode: only VALIDE
    (Action.CONSULT, OPEN, A.VALIDE, False, M.NORMAL, None, True, 200, "DMP:authorisation-valide"),
    (Action.CONSULT, OPEN, A.NON_EXISTE, False, M.NORMAL, None, False, 403, "DMP:authorisation-non-existe"),
    (Action.CONSULT, OPEN, A.EXPIRE, False, M.NORMAL, None, False, 403, "DMP:authorisation-expire"),
    (Action.CONSULT, OPEN, A.INTERDIT, False, M.NORMAL, None, False, 403, "DMP:blocked"),
    # break-glass: reason mandatory, refused on opt-out, authorisation not needed
    (Action.CONSULT, OPEN, A.NON_EXISTE, False, M.BRIS_DE_GLACE, "arrêt cardiaque", True, 200, "DMP:bris-de-glace"),
    (Action.CONSULT, OPEN, A.EXPIRE, False, M.BRIS_DE_GLACE, "urgence", True, 200, "DMP:bris-de-glace"),
    (Action.CONSULT, OPEN, A.NON_EXISTE, False, M.BRIS_DE_GLACE, None, False, 400, "DMP:bris-de-glace-reason"),
    (Action.CONSULT, OPEN, A.NON_EXISTE, False, M.BRIS_DE_GLACE, "   ", False, 400, "DMP:bris-de-glace-reason"),
    (Action.CONSULT, OPTED_BG, A.NON_EXISTE, False, M.BRIS_DE_GLACE, "urgence", False, 403,
     "DMP:opt-out-bris-de-glace"),
    (Action.CONSULT, OPTED_15, A.NON_EXISTE, False, M.BRIS_DE_GLACE, "urgence", True, 200, "DMP:bris-de-glace"),
    # centre 15: authorisation not checked, refused on opt-out
    (Action.CONSULT, OPEN, A.NON_EXISTE, False, M.CENTRE_15, None, True, 200, "DMP:centre-15"),
    (Action.CONSULT, OPTED_15, A.VALIDE, False, M.CENTRE_15, None, False, 403, "DMP:opt-out-centre-15"),
    (Action.CONSULT, OPTED_BG, A.NON_EXISTE, False, M.CENTRE_15, None, True, 200, "DMP:centre-15"),
    # a blocked professional is always refused, whatever the mode and the authorisation
    (Action.CONSULT, OPEN, A.VALIDE, True, M.NORMAL, None, False, 403, "DMP:blocked"),
    (Action.CONSULT, OPEN, A.VALIDE, True, M.BRIS_DE_GLACE, "urgence", False, 403, "DMP:blocked"),
    (Action.CONSULT, OPEN, A.VALIDE, True, M.CENTRE_15, None, False, 403, "DMP:blocked"),
    (Action.FEED, OPEN, A.VALIDE, True, M.NORMAL, None, False, 403, "DMP:blocked"),
    (Action.UPDATE, OPEN, A.NON_EXISTE, True, M.NORMAL, None, False, 403, "DMP:blocked"),
    # feeding needs no authorisation
    (Action.FEED, OPEN, A.NON_EXISTE, False, M.NORMAL, None, True, 200, "DMP:feed-no-authorisation"),
    (Action.FEED, OPEN, A.EXPIRE, False, M.NORMAL, None, True, 200, "DMP:feed-no-authorisation"),
    (Action.FEED, OPTED_ALL, A.NON_EXISTE, False, M.NORMAL, None, True, 200, "DMP:feed-no-authorisation"),
    (Action.UPDATE, OPEN, A.NON_EXISTE, False, M.NORMAL, None, True, 200, "DMP:feed-no-authorisation"),
    # a closed or missing DMP refuses everything
    (Action.FEED, CLOSED, A.VALIDE, False, M.NORMAL, None, False, 422, "DMP:closed"),
    (Action.CONSULT, CLOSED, A.VALIDE, False, M.NORMAL, None, False, 422, "DMP:closed"),
    (Action.CONSULT, CLOSED, A.VALIDE, False, M.BRIS_DE_GLACE, "urgence", False, 422, "DMP:closed"),
    (Action.FEED, NO_DMP, A.VALIDE, False, M.NORMAL, None, False, 404, "DMP:exists"),
    (Action.CONSULT, NO_DMP, A.VALIDE, False, M.CENTRE_15, None, False, 404, "DMP:exists"),
]


@pytest.mark.parametrize(
    ("action", "dmp", "authorisation", "blocked", "mode", "reason", "allowed", "status", "rule"), ACCESS_TABLE
)
def test_access_rules(action, dmp, authorisation, blocked, mode, reason, allowed, status, rule):
    caller = Caller(role=PS, rpps="10000000001", authorisation=authorisation, blocked=blocked)
    decision = check_access(action=action, dmp=dmp, caller=caller, mode=mode, reason=reason)
    status_of = http_status(decision.kind) if decision.kind else 200
    assert (bool(decision), status_of, decision.rule) == (allowed, status, rule)
    assert decision.message


def test_break_glass_flagged_for_traces():
    caller = Caller(rpps="1")
    assert check_access(action=Action.CONSULT, dmp=OPEN, caller=caller, mode=M.BRIS_DE_GLACE, reason="x").break_glass
    assert check_access(action=Action.CONSULT, dmp=OPEN, caller=caller, mode=M.CENTRE_15).break_glass
    valid = Caller(rpps="1", authorisation=A.VALIDE)
    assert not check_access(action=Action.CONSULT, dmp=OPEN, caller=valid).break_glass


def test_unknown_patient_carries_xds_code():
    decision = check_access(action=Action.FEED, dmp=NO_DMP, caller=Caller(rpps="1"))
    assert decision.details_code == "XDSUnknownPatientId"


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (Role.PATIENT, Action.CONSULT, True),
        (Role.LEGAL_REPRESENTATIVE, Action.CONSULT, True),
        (Role.PATIENT, Action.FEED, False),
        (Role.LEGAL_REPRESENTATIVE, Action.UPDATE, False),
    ],
)
def test_patient_roles(role, action, allowed):
    assert bool(check_access(action=action, dmp=OPEN, caller=Caller(role=role))) is allowed


AUTHOR = "10000000001"
OTHER = "10000000002"

# (labels, availability, role, caller rpps) -> visible
VISIBILITY_TABLE = [
    (set(), Availability.APPROVED, PS, OTHER, True),
    (set(), Availability.DEPRECATED, PS, OTHER, True),
    (set(), Availability.DELETED, PS, AUTHOR, False),
    (set(), Availability.DELETED, Role.PATIENT, None, False),
    ({MASQUE_PS}, Availability.APPROVED, PS, OTHER, False),
    ({MASQUE_PS}, Availability.APPROVED, PS, AUTHOR, True),
    ({MASQUE_PS}, Availability.APPROVED, PS, None, False),
    ({MASQUE_PS}, Availability.APPROVED, Role.PATIENT, None, True),
    ({MASQUE_PS}, Availability.APPROVED, Role.LEGAL_REPRESENTATIVE, None, True),
    ({INVISIBLE_PATIENT}, Availability.APPROVED, Role.PATIENT, None, False),
    ({INVISIBLE_PATIENT}, Availability.APPROVED, Role.LEGAL_REPRESENTATIVE, None, False),
    ({INVISIBLE_PATIENT}, Availability.APPROVED, PS, OTHER, True),
    ({INVISIBLE_REPRESENTANTS_LEGAUX}, Availability.APPROVED, Role.PATIENT, None, True),
    ({INVISIBLE_REPRESENTANTS_LEGAUX}, Availability.APPROVED, Role.LEGAL_REPRESENTATIVE, None, False),
    ({INVISIBLE_REPRESENTANTS_LEGAUX}, Availability.APPROVED, PS, OTHER, True),
    ({MASQUE_PS, INVISIBLE_PATIENT}, Availability.APPROVED, PS, AUTHOR, True),
    ({MASQUE_PS, INVISIBLE_PATIENT}, Availability.APPROVED, Role.PATIENT, None, False),
]


@pytest.mark.parametrize(("labels", "availability", "role", "rpps", "expected"), VISIBILITY_TABLE)
def test_visibility(labels, availability, role, rpps, expected):
    doc = DocumentView(author_rpps=AUTHOR, labels=frozenset(labels), availability=availability)
    assert is_visible(doc, Caller(role=role, rpps=rpps)) is expected


@pytest.mark.parametrize(
    ("role", "rpps", "allowed"),
    [(PS, AUTHOR, True), (PS, OTHER, False), (PS, None, False), (Role.PATIENT, None, False)],
)
def test_only_the_author_updates(role, rpps, allowed):
    decision = may_update(DocumentView(author_rpps=AUTHOR), Caller(role=role, rpps=rpps))
    assert bool(decision) is allowed
    if not allowed:
        assert decision.kind is not None and http_status(decision.kind) == 403


@pytest.mark.parametrize(
    ("action", "dmp", "authorisation", "blocked", "mode", "reason", "allowed", "status", "rule"),
    [row for row in ACCESS_TABLE if not row[6]],
)
def test_every_refusal_says_why_in_french_and_english(action, dmp, authorisation, blocked, mode, reason, allowed,
                                                      status, rule):
    """English in ``message`` (logs, journal, traces), French in ``french``; neither a copy of the other,
    neither the old "français / English" mix; the caller named where the rule is about the caller."""
    caller = Caller(role=PS, rpps="10000000001", authorisation=authorisation, blocked=blocked)
    decision = check_access(action=action, dmp=dmp, caller=caller, mode=mode, reason=reason)
    assert decision.french and decision.message and decision.french != decision.message
    assert " / " not in decision.message and " / " not in decision.french
    if rule in ("DMP:blocked", "DMP:authorisation-expire", "DMP:authorisation-non-existe", "DMP:opt-out-bris-de-glace",
                "DMP:opt-out-centre-15"):
        assert "RPPS 10000000001" in decision.message and "RPPS 10000000001" in decision.french
    if authorisation is A.INTERDIT and not blocked:
        assert "INTERDIT" in decision.message  # the authorisation, not a block, refused
    elif blocked and dmp is OPEN:
        assert "has blocked" in decision.message


def test_author_only_names_the_author_and_the_caller():
    decision = may_update(DocumentView(author_rpps=AUTHOR), Caller(role=PS, rpps=OTHER))
    assert decision.rule == "PDSm4DMP:TD3.3-author-only"
    assert decision.french.startswith(f"Ce document a été déposé par le professionnel RPPS {AUTHOR} ; seul son auteur")
    assert decision.message.startswith(f"this document was filed by professional RPPS {AUTHOR}; only its author")
    assert f"RPPS {OTHER} is not its author" in decision.message
    anonymous = may_update(DocumentView(author_rpps=None), Caller(role=PS, rpps=OTHER))
    assert "another author" in anonymous.message and "un autre auteur" in anonymous.french


def test_a_patient_may_not_feed_and_is_told_so():
    decision = check_access(action=Action.FEED, dmp=OPEN, caller=Caller(role=Role.PATIENT))
    assert decision.rule == "DMP:role" and "feed this DMP" in decision.message and "alimenter" in decision.french
