"""The MSSanté IMAP service: the pure protocol modules (wire, sequence, fetch, search) and the server."""
