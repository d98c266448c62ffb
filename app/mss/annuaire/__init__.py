"""Annuaire Santé FHIR API v2 stub (``/fhir/v2``): Practitioner, PractitionerRole, Organization.

Mirrors the real API (https://gateway.api.esante.gouv.fr/fhir/v2, FHIR R4, header ``ESANTE-API-KEY``;
mss.md §7), which has no sandbox data: here the directory publishes the sandbox's PSC professionals,
the structures of their activities and the sandbox MSSanté mailboxes. Modules: ``codes`` (systems and
canonicals), ``resources`` (the directory in the v2 shape), ``params`` (the search parameter table),
``search`` (FHIR search over it, pure), ``capability`` (the CapabilityStatement from the same table),
``routes`` (HTTP). docs/mss.md, "Annuaire Santé", says what is supported, ignored, refused and synthetic.
"""

from app.mss.annuaire.codes import MAILBOX_EXT
from app.mss.annuaire.routes import router

__all__ = ["MAILBOX_EXT", "router"]
