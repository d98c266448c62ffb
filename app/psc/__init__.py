"""Pro Santé Connect (PSC): an OpenID Connect provider shaped like PSC's Keycloak (realm ``esante-wallet``).

The shape of the domain:

- **Rules and service, in the middle.** ``service.py`` is the domain's public interface (what the other
  domains, the CLI and the platform call: ``authenticate_access_token``, ``list_professionals``,
  ``fixture_professional``, ``TokenError``, ``seed``, ``rotate_signing_key``); the concept modules behind it:
  ``clients`` (RFC 7591 registration, lookup, client authentication), ``professionals`` (the test
  professionals), ``signing`` (the key ring in the store, rotation), ``sessions`` (login sessions,
  authorization codes), ``grants/`` (one module per grant: ``authorization_code``, ``refresh_token``,
  ``client_credentials``, ``ciba``), ``issuance`` (token responses), ``revocation``, ``verification``
  (the access-token check, userinfo, introspection), ``seed`` (the fixtures). ``memory`` is what a worker
  keeps of the store for the hot paths (revocations, professionals, verified signatures, clients), behind
  ``settings.fast_paths``; it reads the store and nothing of the service.
- **Pure rules, without I/O:** ``tokens`` (claims, signatures), ``keys`` (JWKs, key rings), ``pkce``,
  ``rpps``, ``userinfo`` (PSC's userinfo shape), ``storage`` (how values are kept), ``realm`` (the URLs).
- **One face per protocol, translating only:** ``oidc/`` (the OpenID Connect endpoints; its error mapper
  ``oidc/errors.py`` answers the domain's OAuth refusals as RFC 6749 JSON, or as the redirect / error page of
  the authorization endpoint), ``control.py`` (the control API under ``/sandbox/v1``; refusals as RFC 9457
  problem details), ``me.py`` (``/psc/v1``, protected by the platform's bearer check), ``auth.py`` (the
  bearer check the platform plugs as ``Domain.authenticate``).
- **One error model:** ``exceptions.py``; services raise those and never choose an HTTP status.
"""
