"""dmp domain: the DMP (dossier médical partagé) — document sharing over PDSm / IHE MHD, access rules, traces.

The shape, from the middle out:

- **Rules and domain objects, no I/O**: ``rules.py`` (access and visibility), ``patch.py`` (metadata
  changes), ``submission.py`` (what a submission files, whichever face it came through), ``simplified.py``
  (what the server fills for ITI-105), ``uniqueid.py``, ``filters.py`` (typed search values as SQL),
  ``rows.py`` (the rows a document is stored as), ``documents.py`` (the seed's CDA documents),
  ``exceptions.py`` (the one error model: :class:`~app.dmp.exceptions.DmpError`).
- **The service**, the only code touching the database: ``access.py`` + ``context.py`` (who calls, the
  access rules applied, refusals traced), ``standing.py`` (a feeding's checks; fast path: one query),
  ``feeding.py`` (filing a submission) + ``feedstore.py`` (storing it; fast path: one statement),
  ``queries.py`` (ITI-67 / ITI-66 searches), ``reading.py`` (read and retrieve), ``updates.py`` (metadata
  updates), ``traces.py`` (access traces), ``records.py`` (DMP records), ``seed.py``. ``service.py`` is the
  public interface faces and other domains call. Services raise domain errors, never choose a status.
- **Faces**, each translating its protocol to service calls and back, with its own error mapper:
  ``fhir/`` (PDSm / MHD over FHIR R4: ``router.py`` routes, ``bundle.py`` / ``document_reference.py`` /
  ``elements.py`` / ``storable.py`` read submissions, ``search.py`` / ``requests.py`` read requests,
  ``render.py`` / ``xml.py`` answer, ``errors.py`` maps domain errors to OperationOutcome); ``control.py``
  (the control API ``/sandbox/v1/dmps``, problem details). An XDS.b SOAP face (issue 11) goes beside
  ``fhir/`` as ``soap/`` on the same service, rules and errors (``DmpError.xds_code``).
"""
