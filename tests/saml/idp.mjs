// A SAML 2.0 identity provider for modtag's MitID Erhverv tests: samlify (a maintained SAML
// library) on loopback, answering as NemLog-in does by the OIOSAML 3 profile. It checks
// modtag's AuthnRequest against the SAML schema (node-xmllint) and its Redirect-binding
// signature against the certificate in modtag's SP metadata, signs the assertion with its
// own key and encrypts it (AES-256-GCM, RSA-OAEP) to modtag's encryption certificate.
//
//   node idp.mjs PORT KEY_DIR METADATA_OUT SP_METADATA_URL
//
// It writes its own metadata to METADATA_OUT before it listens, and reads modtag's metadata
// from SP_METADATA_URL at the first sign-in (modtag starts after it).
//
// The sign-in page (`GET /sso`) is a form with the person's name, e-mail, CVR and
// organisation filled in; "Log ind" answers with a page that posts the response to modtag's
// ACS (by script, or by its button without one). For what modtag must refuse,
// `GET /__mode/NAME` changes what the next response is, each made and signed by samlify:
//   normal    as NemLog-in would send it
//   audience  the assertion is for another service provider
//   expired   issued an hour ago and valid for five minutes then
//   unsigned  neither the assertion nor the response is signed
//   signer    signed by another key than the one in the IdP's metadata
//   low       NSIS level of assurance "Low"
//   person    a private person's identity (MitID): no CVR, no organisation
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import * as saml from 'samlify';
import * as validator from '@authenio/samlify-node-xmllint';

const [port, keyDir, metadataOut, spMetadataUrl] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const read = (name) => fs.readFileSync(path.join(keyDir, name), 'utf8');

saml.setSchemaValidator(validator);

const redirect = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
function provider(signingKey, signingCert) {
  return saml.IdentityProvider({
    entityID: `${base}/idp`,
    privateKey: read(signingKey),
    signingCert: read(signingCert),
    isAssertionEncrypted: true,
    dataEncryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
    keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    wantAuthnRequestsSigned: true,
    nameIDFormat: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
    singleSignOnService: [{ Binding: redirect, Location: `${base}/sso` }],
  });
}
const idp = provider('idp-signing.key', 'idp-signing.crt');
// The same IdP entity, signing with a key its metadata does not name.
const impostor = provider('idp-other.key', 'idp-other.crt');
fs.writeFileSync(metadataOut, idp.getMetadata());

let spMetadata = null;
async function serviceProvider(unsigned) {
  spMetadata ??= await (await fetch(spMetadataUrl)).text();
  // The IdP signs what the SP's metadata asks signed: for "unsigned", it is told nothing is.
  const meta = unsigned ? spMetadata.replace(/WantAssertionsSigned="true"/, 'WantAssertionsSigned="false"') : spMetadata;
  return saml.ServiceProvider({ metadata: meta, wantMessageSigned: false });
}

let mode = 'normal';
// Sign-ins waiting for their "Log ind": token -> the request's id and relay state.
const waiting = new Map();

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html lang="da"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;

const attr = (name, value) =>
  `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue xsi:type="xs:string">${esc(value)}</saml:AttributeValue></saml:Attribute>`;

// The OIOSAML 3 response, as NemLog-in writes it for a professional (MitID Erhverv).
function response(v, person) {
  const loa = mode === 'low' ? 'Low' : 'Substantial';
  const attrs = [
    attr('https://data.gov.dk/model/core/specVersion', 'OIO-SAML-3.0'),
    attr('https://data.gov.dk/concept/core/nsis/loa', loa),
    attr('https://data.gov.dk/model/core/eid/fullName', person.name),
    attr('https://data.gov.dk/model/core/eid/professional/uuid/persistent', `urn:uuid:${person.uuid}`),
  ];
  // NemLog-in gives an e-mail only when the person has one registered.
  if (person.email) attrs.push(attr('https://data.gov.dk/model/core/eid/email', person.email));
  if (mode !== 'person') {
    attrs.push(attr('https://data.gov.dk/model/core/eid/professional/cvr', person.cvr));
    attrs.push(attr('https://data.gov.dk/model/core/eid/professional/orgName', person.org));
  }
  return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${v.ID}" Version="2.0" IssueInstant="${v.IssueInstant}" Destination="${v.Destination}" InResponseTo="${v.InResponseTo}"><saml:Issuer>${v.Issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="${v.AssertionID}" Version="2.0" IssueInstant="${v.IssueInstant}"><saml:Issuer>${v.Issuer}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">https://data.gov.dk/model/core/eid/professional/uuid/persistent/${person.uuid}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${v.NotOnOrAfter}" Recipient="${v.Destination}" InResponseTo="${v.InResponseTo}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="${v.NotBefore}" NotOnOrAfter="${v.NotOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${esc(v.Audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="${v.IssueInstant}" SessionIndex="${v.AssertionID}"><saml:AuthnContext><saml:AuthnContextClassRef>https://data.gov.dk/concept/core/nsis/loa/${loa}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>${attrs.join('')}</saml:AttributeStatement></saml:Assertion></samlp:Response>`;
}

async function signIn(token, person) {
  const w = waiting.get(token);
  if (!w) throw new Error('unknown sign-in');
  waiting.delete(token);
  const sp = await serviceProvider(mode === 'unsigned');
  const from = mode === 'signer' ? impostor : idp;
  const issued = mode === 'expired' ? new Date(Date.now() - 3600_000) : new Date();
  const later = new Date(issued.getTime() + 5 * 60_000);
  const acs = sp.entityMeta.getAssertionConsumerService('post');
  const id = '_' + crypto.randomUUID();
  const v = {
    ID: id,
    AssertionID: '_' + crypto.randomUUID(),
    IssueInstant: issued.toISOString(),
    NotBefore: issued.toISOString(),
    NotOnOrAfter: later.toISOString(),
    Destination: acs,
    InResponseTo: w.requestId,
    Issuer: `${base}/idp`,
    Audience: mode === 'audience' ? 'https://another-sp.example.dk' : sp.entityMeta.getEntityID(),
  };
  const made = await from.createLoginResponse(sp, { extract: { request: { id: w.requestId } } }, 'post', person, {
    customTagReplacement: () => ({ id, context: response(v, person) }),
    relayState: w.relayState,
  });
  return { acs, samlResponse: made.context, relayState: w.relayState };
}

function form(req) {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => resolve(new URLSearchParams(body)));
  });
}

async function handle(req, res) {
  const url = new URL(req.url, base);
  const set = url.pathname.match(/^\/__mode\/(\w+)$/);
  if (set) {
    mode = set[1];
    return [200, JSON.stringify({ mode }), 'application/json'];
  }
  if (url.pathname === '/metadata') return [200, idp.getMetadata(), 'application/samlmetadata+xml'];
  if (url.pathname === '/sso' && req.method === 'GET') {
    // The signed part of the query, exactly as it came (SAML bindings §3.4.4.1).
    const raw = req.url.slice(req.url.indexOf('?') + 1).split('&');
    const part = (k) => raw.find((p) => p.startsWith(k + '='));
    const octetString = ['SAMLRequest', 'RelayState', 'SigAlg'].map(part).filter(Boolean).join('&');
    const query = Object.fromEntries(url.searchParams);
    const sp = await serviceProvider(false);
    const { extract } = await idp.parseLoginRequest(sp, 'redirect', { query, octetString });
    const token = crypto.randomUUID();
    waiting.set(token, { requestId: extract.request.id, relayState: query.RelayState || '' });
    const field = (name, label, value) =>
      `<p><label for="${name}">${label}</label><br><input id="${name}" name="${name}" value="${esc(value)}"></p>`;
    return [200, page('MitID Erhverv (test)', `<form method="post" action="/login"><input type="hidden" name="token" value="${token}">${field('name', 'Navn', 'Susanne Møller')}${field('email', 'E-mail', 'leder@friskolen.dk')}${field('cvr', 'CVR', '13585628')}${field('org', 'Organisation', 'Friskolen')}<p><button type="submit" id="log-ind">Log ind</button></p></form>`), 'text/html; charset=utf-8'];
  }
  if (url.pathname === '/login' && req.method === 'POST') {
    const f = await form(req);
    const person = {
      name: f.get('name'), email: f.get('email'), cvr: f.get('cvr'), org: f.get('org'),
      uuid: crypto.createHash('sha256').update(f.get('email') || '').digest('hex').slice(0, 32).replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5'),
    };
    const out = await signIn(f.get('token'), person);
    return [200, page('Sender dig tilbage', `<form id="saml" method="post" action="${esc(out.acs)}"><input type="hidden" name="SAMLResponse" value="${esc(out.samlResponse)}"><input type="hidden" name="RelayState" value="${esc(out.relayState)}"><p><button type="submit" id="fortsaet">Fortsæt</button></p></form><script>document.getElementById('saml').submit()</script>`), 'text/html; charset=utf-8'];
  }
  return [404, 'not found', 'text/plain'];
}

http.createServer((req, res) => {
  handle(req, res).then(([status, body, type]) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  }, (err) => {
    console.error('idp error', err);
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`refused: ${err.message || err}`);
  });
}).listen(Number(port), '127.0.0.1', () => console.log(`saml idp listening on ${base}`));
