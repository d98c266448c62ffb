"""MSSanté IMAP4rev1 service (RFC 3501): the pure protocol modules (:mod:`.wire`, :mod:`.sequence`,
:mod:`.fetch`, :mod:`.search`: parsing and rendering, no I/O) and the server built on them."""
