"""The MSSanté operator (domain ``mss``): mailboxes in a closed trust space, reached over SMTP and HTTP (IMAP
and a patient face to come beside them), and the Annuaire Santé stub that publishes them.

The shape of the domain:

- **In the middle, the rules and the service.** Pure rules without I/O: :mod:`.addresses` (how addresses are
  written), :mod:`.checks` (the MSSanté checks of a message), :mod:`.mime` (parsing a message) and
  :mod:`.skeleton` (its fast path), :mod:`.xdm` (IHE XDM, read and written), :mod:`.notifications` (DSN, MDN),
  :mod:`.compose` (a message from a send request). The service, the only code that touches the database,
  one module a concept: :mod:`.mailboxes`, :mod:`.recipients`, :mod:`.analysis`, :mod:`.deliveries` (with
  :mod:`.store` and :mod:`.parser`, each a small interface with a fast and a plain implementation chosen by
  ``SEGUR_FAST_PATHS``), :mod:`.messages`, :mod:`.receipts`, :mod:`.submission`, :mod:`.faults`,
  :mod:`.tlskeys`, :mod:`.seed`; :mod:`.service` is the one interface the faces and other domains call.
  :mod:`.models` the tables, :mod:`.schemas` the HTTP bodies, :mod:`.config` the settings.
- **One error model**: :mod:`.exceptions` holds the domain's errors (rule id, text, facts); the service
  raises them and never chooses a protocol's answer.
- **One face per protocol, each translating its protocol to service calls and back, with its own error
  mapper**: :mod:`.smtp` (the listener; :mod:`.smtp.replies` maps errors to SMTP replies), :mod:`.http`
  (the mailbox API ``/mss/v1``; :mod:`.http.problems` maps errors to RFC 9457 problems), :mod:`.autoconfig`
  (mail client autoconfiguration), :mod:`.annuaire` (the Annuaire Santé FHIR stub, its own face and
  OperationOutcome errors). An IMAP face goes beside :mod:`.smtp`, calling :mod:`.service`.
- :mod:`.control` is the control API (``/sandbox/v1/mailboxes``); :mod:`.domain` what the domain plugs into
  the platform (routers, the PSC-protected ones apart, the seed, the SMTP lifespan, the error mapper).
"""
