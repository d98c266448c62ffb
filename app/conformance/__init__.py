"""The conformance report: the server-observable Ségur requirements (:mod:`.catalogue`), a rule per
requirement evaluated on journal entries (:mod:`.rules`), and the report in JSON, JUnit XML and HTML
(:mod:`.report`). Platform-level and pure: it reads journal entries handed to it (``app.api.models``
rows turned into :class:`.model.Entry`), and imports no domain.
"""
