"""INSi's SOAP 1.2 face (``POST /lps``, WSDL at ``GET /lps?wsdl``): it only translates SOAP to the domain's
service calls and back.

- :mod:`~app.ins.soap.namespaces` — namespaces, actions and operations of WSDL ``DESIR_ICIR_EXP_1.5.0``;
- :mod:`~app.ins.soap.envelope` — the hardened parse and the envelope's headers (ContexteBAM, ContexteLPS,
  WS-Addressing, wsse:Security);
- :mod:`~app.ins.soap.bodies` — the ``RECSANSVITALE`` / ``RECVITALE`` bodies, in their XSD order;
- :mod:`~app.ins.soap.answers` — the ``RESULTAT`` answer and the call log;
- :mod:`~app.ins.soap.faults` — SOAP 1.2 faults (siram / desir / insi codes, HTTP 500) and the one mapper of the
  domain's errors to them;
- :mod:`~app.ins.soap.endpoint` — the routes: credential, IDAM, search, answer;
- :mod:`~app.ins.soap.client` — requests as a client builds them (tests, bench, docs): ``build_request``,
  ``recsansvitale_xml``, ``recvitale_xml``, ``saml_security``.
"""
