"""The DMP-specific services: TD0.2 (DMP existence, status, authorisation, médecin traitant) and TD1.1
(create a DMP), in the shapes of the DMPi specifications (docs/dmp.md says where they are not public)."""

from __future__ import annotations

from app.dmp.soap.call import Handler

SERVICE = "patients"  # the path segment under /si-dmp-server/v2/services
OPERATIONS: dict[str, Handler] = {}  # wsa:Action -> handler
