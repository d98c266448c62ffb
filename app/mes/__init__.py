"""Mon espace santé, the patient side (domain ``mes``): what a patient does, over the same store and rules as the
DMP and MSSanté faces — sign in (INS + one-time code), read, add, mask, delete their documents, control who
accesses their DMP, read the activity history and notifications, and (helper M) their MSSanté mailbox.

- Pure rules: :mod:`.rules` (codes, minors). The service, the only code touching the database, one module a
  concept: :mod:`.persons` (who acts for whom), :mod:`.signin` (codes, page sessions, API tokens),
  :mod:`.dossier` (DMP state and access control), :mod:`.documents`, :mod:`.history` (activity, notifications),
  :mod:`.messaging` (MSSanté citoyenne); :mod:`.service` is the one interface the faces call.
  :mod:`.models` the tables, :mod:`.views` what the service answers, :mod:`.config` the settings.
- :mod:`.exceptions`: the domain's errors; each face maps them (:mod:`.api.problems` for the JSON API).
- Faces: :mod:`.api` (``/mes/api/v1``, JSON), the pages (``/mes/...``, helper W); :mod:`.control` the control
  API (``/sandbox/v1/mes``); :mod:`.domain` what the domain plugs into the platform.
- Tenants (issue 15): every ``mes_`` table but the signing key is a tenant's (the ORM scopes every lookup); at
  ``/t/<tenant>/mes/...`` the token issuer is the tenant's (:func:`.signin.issuer`), and every path the pages emit,
  the session cookie's ``Path`` included, is the tenant's (:mod:`.pages_web`).
"""
