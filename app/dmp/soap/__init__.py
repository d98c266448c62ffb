"""The DMP's XDS.b SOAP face (the DMPi route, issue 11): IHE ITI-41, ITI-18, ITI-43, ITI-57 and the DMP's
TD0.2 / TD1.1 over SOAP 1.2 with WS-Addressing and MTOM/XOP, each call carrying a signed VIHF.

A second face of the same DMP: it reads its protocol into the service's terms and calls
:mod:`app.dmp.service`, over the same store and rules (:mod:`app.dmp.rules`) as the FHIR face.

- :mod:`.namespaces` the names (namespaces, actions, ebRIM UUIDs, stored-query ids);
- :mod:`.call` the contract between transport and transactions (``SoapRequest``, ``SoapCall``, ``SoapReply``);
- transport: :mod:`.envelope` (SOAP 1.2 + WS-Addressing), :mod:`.mtom` (MTOM/XOP in and out), :mod:`.faults`,
  :mod:`.errors` (domain errors as ``RegistryResponse``), :mod:`.router` (the endpoints and ``?wsdl``);
- security: :mod:`.vihf` (the VIHF, its signature, the access context);
- metadata: :mod:`.ebrim_in` (a ``SubmitObjectsRequest`` read into a submission), :mod:`.ebrim_out` (stored
  documents and submission sets written as ebRIM);
- transactions: :mod:`.iti41`, :mod:`.iti18` (+ :mod:`.storedquery`), :mod:`.iti43`, :mod:`.iti57`, :mod:`.td`.
"""
