"""The token endpoint's grants, one module each (RFC 6749 §4.1 authorization_code, §6 refresh_token,
§4.4 client_credentials; CIBA Core poll mode): each checks what its grant presents and hands a
:class:`app.psc.issuance.Grant` to token issuance."""

GRANT_CIBA = "urn:openid:params:grant-type:ciba"
