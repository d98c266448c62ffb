"""Which handler serves which WS-Addressing action at which endpoint of the DMP's SOAP face.

The real DMP serves its XDS.b actors at ``https://lps2.dmp.gouv.fr/si-dmp-server/v2/services/<service>``
(DRIMBox ``dmp.baseurl`` + ``registry`` / ``repository``: ansforge/DRIM-M_DRIMbox
``Backend/src/main/java/com/bcom/drimbox/dmp/request/BaseRequest.java`` @4ae559df, ``xades/request/
ProvideAndRegisterRequest.java`` @8ca15111 ``serviceName() = "repository"``): the registry answers ITI-18 and
ITI-57 (IHE ITI TF-2a §3.18, TF-2c §3.57: Document Registry actor), the repository ITI-41 and ITI-43 (TF-2b
§3.41, §3.43: Document Repository actor); the DMP's own TD services are :mod:`.td`'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.dmp.soap import iti18, iti41, iti43, iti57, td
from app.dmp.soap.call import Handler
from app.dmp.soap.namespaces import ACTION_ITI18, ACTION_ITI41, ACTION_ITI43, ACTION_ITI57

PREFIX = "/si-dmp-server/v2/services"
REGISTRY = "registry"
REPOSITORY = "repository"


def services() -> dict[str, Mapping[str, Handler]]:
    """service (the path segment) -> wsa:Action -> handler."""
    return {
        REGISTRY: {ACTION_ITI18: iti18.registry_stored_query, ACTION_ITI57: iti57.update_document_set},
        REPOSITORY: {ACTION_ITI41: iti41.provide_and_register, ACTION_ITI43: iti43.retrieve_document_set},
        td.SERVICE: dict(td.OPERATIONS),
    }
