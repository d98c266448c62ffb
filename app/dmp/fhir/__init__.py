"""The DMP's FHIR face: PDSm 3.1.1 / IHE MHD 4.2.3 / PDSm4DMP over FHIR R4 at ``/dmp/fhir``.

It only translates: requests into the service's calls (:mod:`.requests`, :mod:`.search`, :mod:`.bundle`,
:mod:`.document_reference`, :mod:`.elements`, :mod:`.storable`, :mod:`.fhircheck`, :mod:`.references`), the
service's answers into FHIR (:mod:`.render`, :mod:`.xml`), the domain's errors into OperationOutcomes
(:mod:`.errors`); :mod:`.router` holds the routes, :mod:`.dependencies` the load-or-fail dependencies,
:mod:`.openapi` what ``/openapi.json`` says they answer.
"""
