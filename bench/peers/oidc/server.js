// The peer of bench/peers/compare.py: oidc-provider (one Node process) issuing RS256 JWT access tokens for
// the client_credentials grant, as the sandbox's token endpoint does. JWT access tokens need resource
// indicators (RFC 8707) in oidc-provider: every token is for one default resource server whose tokens are
// RS256 JWTs with the audience the sandbox uses ("account"). Usage: node server.js <port>
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3000);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' };
const RESOURCE = 'urn:segur:bench:api';

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'segur-sandbox-confidential',
    client_secret: 'segur-sandbox-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'profile email',
  }],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'profile', 'email'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'profile email',
        audience: 'account',
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on 127.0.0.1:${port}`));
