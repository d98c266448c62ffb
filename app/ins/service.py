"""The INS domain's public interface: what other domains, the CLI and the bench may import from it.

Other domains (DMP, MSSanté) read identities of the simulated national base through :func:`find_identity`,
:func:`lookup_key`, :func:`known_ins`, :func:`list_identities`, :func:`identity_kind_subquery` and the
:class:`InsIdentity` they return (:mod:`app.ins.identities`); the CLI loads a user's fixture file
(:func:`load_fixture_file`), the bench and the platform's reset seed the base (:func:`seed`,
:func:`load_fixtures`, :mod:`app.ins.national_base`). The domain's own faces call its concept modules directly
(:mod:`app.ins.searches`, :mod:`app.ins.national_base`). The web console (``app/console``) lists persons and
cards (:func:`list_persons`, :func:`list_cards`) and runs a trial search the way the JSON facade does
(:func:`check_query`, :func:`search_by_traits`, :func:`answer_body`; refusals are :class:`InsError`).
"""

from __future__ import annotations

from app.ins.exceptions import InsError
from app.ins.identities import (
    InsIdentity,
    find_identity,
    identity_kind_subquery,
    known_ins,
    list_identities,
    lookup_key,
)
from app.ins.individu import answer_body
from app.ins.national_base import list_cards, list_persons, load_fixture_file, load_fixtures, seed
from app.ins.searches import search_by_traits
from app.ins.traits import check_query

__all__ = [
    "InsError",
    "InsIdentity",
    "answer_body",
    "check_query",
    "find_identity",
    "identity_kind_subquery",
    "known_ins",
    "list_cards",
    "list_identities",
    "list_persons",
    "load_fixture_file",
    "load_fixtures",
    "lookup_key",
    "search_by_traits",
    "seed",
]
