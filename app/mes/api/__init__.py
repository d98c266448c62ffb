"""The patient API (``/mes/api/v1``): JSON, bearer tokens from :mod:`app.mes.signin`, RFC 9457 problems (RFC 6749
errors on the token endpoint). Translating only: every action is a call of :mod:`app.mes.service`."""
