"""What the domains share without depending on one another: types and reference facts, no I/O.

- :mod:`app.shared.professional` — the authenticated health professional every domain reads;
- :mod:`app.shared.identifiers` — the INS OID catalogue (INSi, DMP, MSSanté XDM, CDA headers);
- :mod:`app.shared.valuesets` — the CI-SIS value sets (JDV) that DMP metadata and XDM share.

Any domain may import from here; this package imports no domain (an import-linter contract,
``pyproject.toml``). Otherwise a domain reaches another only through that domain's ``service`` module.
"""
