// A real OpenID provider for modtag's sign-in tests: panva's oidc-provider (OpenID
// Certified) on loopback, with modtag registered as a confidential client that must use
// PKCE. Its development interactions sign in any login name (used as the account id and
// the e-mail claim) with any password, through a login form and a consent form.
//
//   node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// For the tests of what modtag must refuse, `GET /__mode/NAME` changes what the token
// endpoint hands out next, each a token the real provider signed with its own key:
//   normal   as issued
//   audience re-signed for another client (`aud` is not modtag)
//   expired  re-signed with `exp` an hour ago
//   replay   the ID token of the previous sign-in again (its nonce belongs to that one)
//   unverified  re-signed with `email_verified: false`
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK, SignJWT, decodeJwt } from 'jose';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  // Scope claims in the ID token itself, as Entra ID puts them.
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: id, email_verified: true, preferred_username: id }),
  }),
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['modtag-test-only'] },
});

let mode = 'normal';
let previous = null;

async function resign(token, change) {
  const claims = { ...decodeJwt(token), ...change };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'JWT' })
    .sign(privateKey);
}

provider.use(async (ctx, next) => {
  const set = ctx.path.match(/^\/__mode\/(\w+)$/);
  if (set) {
    mode = set[1];
    ctx.body = { mode };
    return;
  }
  await next();
  if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body?.id_token) return;
  const issued = ctx.body.id_token;
  if (mode === 'audience') ctx.body.id_token = await resign(issued, { aud: 'another-client' });
  if (mode === 'expired') {
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    ctx.body.id_token = await resign(issued, { exp: hourAgo, iat: hourAgo - 600 });
  }
  if (mode === 'replay' && previous) ctx.body.id_token = previous;
  if (mode === 'unverified') ctx.body.id_token = await resign(issued, { email_verified: false });
  previous = issued;
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
