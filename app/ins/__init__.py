"""The INS domain: the INSi teleservice (search of a patient's INS by traits or by Carte Vitale) and the
simulated national base of identities behind it.

Its shape:

- **rules, pure** (no I/O): :mod:`~app.ins.nir` (NIR/NIA keys, checks against the OID catalogue of
  :mod:`app.shared.identifiers`), :mod:`~app.ins.traits` (INSi's trait rules), :mod:`~app.ins.search` (codes
  00/01/02, Carte Vitale beneficiaries, verification), :mod:`~app.ins.rniv` (identity status engine),
  :mod:`~app.ins.fhir` (FR Core Patient), :mod:`~app.ins.individu` (INSi's ``INDIVIDU`` as JSON),
  :mod:`~app.ins.call_log` (the line journaled per answer), :mod:`~app.ins.synthetic` (bulk test persons);
- **errors**: :mod:`~app.ins.exceptions`, raised by rules and services, never an HTTP status;
- **the store**: :mod:`~app.ins.models`, :mod:`~app.ins.records` (rows read as search records),
  :mod:`~app.ins.identities` (look-ups for other domains), :mod:`~app.ins.searches` (the INSi operations),
  :mod:`~app.ins.national_base` (persons, cards, IDAMs: control API and seed);
  :mod:`~app.ins.service` is the public interface other domains, the CLI and the bench import;
- **faces**, each translating its protocol to those calls and back, with one error mapper:
  :mod:`~app.ins.soap` (SOAP 1.2 at ``/lps``, faults with siram/desir/insi codes, ``soap.faults.map_error``),
  :mod:`~app.ins.router` (JSON at ``/insi/v1``, RFC 9457 problems, ``problem_of``),
  :mod:`~app.ins.control` (the control API at ``/sandbox/v1``, ``control_problem``);
- **fast paths**, each behind one small interface gated by ``settings.fast_paths``: the two search routes
  dispatched beside FastAPI's router (``Domain.hot_operations``, :mod:`app.api.hotpaths`),
  :mod:`~app.ins.readpool` (the connection lender and the statement compiled for asyncpg in
  :func:`app.ins.searches.search_by_traits_fast`), :mod:`~app.ins.jsonbody` (orjson answers);
- :mod:`~app.ins.config` (settings), :mod:`~app.ins.schemas` (request bodies), :mod:`~app.ins.domain` (what
  the domain plugs into the platform).
"""
