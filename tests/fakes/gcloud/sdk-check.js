// The gcloud fake driven by Google's own SDK: @google-cloud/dns for the API
// and google-auth-library for the service account's JWT grant (signed with
// the key file's private key, posted to the token endpoint). Both SDKs name
// Google's hosts in constants (https://dns.googleapis.com/dns/v1, and
// https://oauth2.googleapis.com/token as the JWT's aud and the POST's
// target: a key file's token_uri is not used); here the service's baseUrl
// and a request interceptor of the auth client's transport send them to
// the fake instead (the token request to the key file's token_uri, the
// fake's token listener), unchanged otherwise.
'use strict';
const fs = require('fs');
const {DNS} = require('@google-cloud/dns');
const {JWT} = require('google-auth-library');

const [FAKE, KEYFILE, BADKEYFILE] = process.argv.slice(2);
const ZONE = 'sdk.test';
const tap = require('../common/tap');
const ok = (cond, name, why) => tap.check(name, cond, why);

function client(keyfile) {
  const key = JSON.parse(fs.readFileSync(keyfile, 'utf8'));
  const jwt = new JWT({
    email: key.client_email,
    key: key.private_key,
    keyId: key.private_key_id,
    scopes: ['https://www.googleapis.com/auth/ndev.clouddns.readwrite'],
  });
  jwt.transporter.interceptors.request.add({
    resolved: async opts => {
      const u = new URL(String(opts.url));
      if (u.href === 'https://oauth2.googleapis.com/token') opts.url = new URL(key.token_uri);
      return opts;
    },
  });
  return {key, jwt};
}

function dns(c, extra) {
  const d = new DNS(Object.assign({projectId: c.key.project_id, authClient: c.jwt}, extra || {}));
  d.baseUrl = FAKE + '/dns/v1';
  return d;
}

async function fake(path) {
  const r = await fetch(FAKE + path);
  return r.json();
}

async function txtAt(name) {
  const st = await fake('/_fake/state');
  return st.zones[ZONE].filter(r => r.name === name && r.type === 'TXT').map(r => r.content);
}

// every page of a listing, one request each (nextPageToken followed by hand)
async function paged(list, query) {
  let q = Object.assign({autoPaginate: false}, query);
  let pages = 0;
  const items = [];
  for (;;) {
    const [got, next] = await list(q);
    pages++;
    items.push(...got);
    if (!next || pages > 50) return {items, pages};
    q = Object.assign({}, next, {autoPaginate: false});
  }
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    ok(false, name, e && (e.stack || e.message || e));
  }
}

async function main() {
  const good = client(KEYFILE);
  const d = dns(good);

  await step('managedZones.list: the JWT grant, then the zones, paged', async () => {
    const {items, pages} = await paged(q => d.getZones(q), {maxResults: 1});
    const names = items.map(z => z.metadata.dnsName).sort();
    ok(pages === 2 && JSON.stringify(names) === JSON.stringify(['other.test.', 'sdk.test.']),
      `managedZones.list: the zones, ${pages} pages of 1`, JSON.stringify(names));
    const tok = good.jwt.credentials.access_token || '';
    ok(tok.startsWith('ya29.fake-') && good.jwt.credentials.expiry_date > Date.now() + 3000e3,
      'the token endpoint took the SDK\'s signed JWT and gave an access token for an hour',
      JSON.stringify(good.jwt.credentials));
  });

  const zone = d.zone('sdk-test');
  await step('resourceRecordSets.list: several pages', async () => {
    const {items: all, pages} = await paged(q => zone.getRecords(q), {maxResults: 2});
    const state = await fake('/_fake/state');
    const want = new Set(state.zones[ZONE].map(r => `${r.name}. ${r.type}`));
    const got = new Set(all.map(r => `${r.metadata.name} ${r.type}`));
    ok(pages >= 5, `resourceRecordSets.list: ${pages} pages of 2 rrsets`);
    ok(got.size === want.size && [...want].every(k => got.has(k)),
      'resourceRecordSets.list: every rrset of the zone, once', JSON.stringify([...got]));
    const [byName] = await zone.getRecords({name: 'p3.sdk.test.', type: 'TXT'});
    ok(byName.length === 1 && byName[0].data[0] === '"page 3"',
      'resourceRecordSets.list ?name=&type=: the one rrset, its rrdata as stored',
      JSON.stringify(byName.map(r => r.metadata)));
  });

  const name = '_mta-sts.sdk.test.';
  const rec = (ttl, data) => zone.record('txt', {name, ttl, data});
  await step('changes.create: an addition', async () => {
    const [change] = await zone.createChange({add: rec(300, '"v=STSv1; id=1"')});
    ok(change.id && change.metadata.status === 'pending', 'changes.create: the change answered',
      JSON.stringify(change.metadata));
    const got = await txtAt('_mta-sts.sdk.test');
    ok(JSON.stringify(got) === '["\\"v=STSv1; id=1\\""]', 'changes.create: the rrset is there',
      JSON.stringify(got));
  });
  await step('changes.create: a deletion and an addition (a replace)', async () => {
    await zone.createChange({delete: rec(300, '"v=STSv1; id=1"'),
      add: rec(600, ['"v=STSv1; id=2"', '"foreign" "two strings"'])});
    const got = (await txtAt('_mta-sts.sdk.test')).sort();
    ok(JSON.stringify(got) === JSON.stringify(['"foreign" "two strings"', '"v=STSv1; id=2"']),
      'changes.create: replaced in one change', JSON.stringify(got));
  });
  await step('changes.create: conflicts', async () => {
    try {
      await zone.createChange({add: rec(300, '"again"')});
      ok(false, 'changes.create: an addition of an existing rrset is refused (409)');
    } catch (e) {
      ok(e.code === 409 && /already exists/.test(e.message) &&
        e.errors && e.errors[0].reason === 'alreadyExists',
      'changes.create: an addition of an existing rrset is refused (409 alreadyExists)',
      `${e.code} ${e.message}`);
    }
    try {
      await zone.createChange({delete: rec(300, '"v=STSv1; id=2"')});
      ok(false, 'changes.create: a deletion that is not the rrset is refused (412)');
    } catch (e) {
      ok(e.code === 412 && e.errors && e.errors[0].reason === 'conditionNotMet',
        'changes.create: a deletion that is not the rrset is refused (412 conditionNotMet)',
        `${e.code} ${e.message}`);
    }
    await zone.createChange({add: zone.record('cname', {name: 'www.sdk.test.', ttl: 300,
      data: 'elsewhere.example.net.'})});
    try {
      await zone.createChange({add: zone.record('txt', {name: 'www.sdk.test.', ttl: 300, data: '"x"'})});
      ok(false, 'changes.create: a TXT beside a CNAME is refused');
    } catch (e) {
      ok(e.code === 400 && e.errors && e.errors[0].reason === 'cnameResourceRecordSetConflict',
        'changes.create: a TXT beside a CNAME is refused (cnameResourceRecordSetConflict)',
        `${e.code} ${e.message}`);
    }
    try {
      await zone.createChange({add: zone.record('txt', {name: 'long.sdk.test.', ttl: 300,
        data: '"' + 'x'.repeat(256) + '"'})});
      ok(false, 'changes.create: a TXT string over 255 octets is refused');
    } catch (e) {
      ok(e.code === 400, 'changes.create: a TXT string over 255 octets is refused (400)',
        `${e.code} ${e.message}`);
    }
  });
  await step('changes.create: a deletion', async () => {
    await zone.createChange({delete: rec(600, ['"v=STSv1; id=2"', '"foreign" "two strings"'])});
    const got = await txtAt('_mta-sts.sdk.test');
    ok(got.length === 0, 'changes.create: the rrset is gone', JSON.stringify(got));
  });

  await step('a wrong key', async () => {
    try {
      await dns(client(BADKEYFILE)).getZones();
      ok(false, 'a key the service account does not have is refused');
    } catch (e) {
      const status = e.response && e.response.status;
      ok(status === 400 && /invalid_grant: Invalid JWT Signature/.test(e.message),
        'a key the service account does not have: the token endpoint answers invalid_grant',
        `${status} ${e.message}`);
    }
  });
  await step('an access token the API does not know', async () => {
    const c = client(KEYFILE);
    c.jwt.setCredentials({access_token: 'ya29.not-issued', token_type: 'Bearer',
      expiry_date: Date.now() + 3600e3});
    try {
      await dns(c, {autoRetry: false}).getZones();
      ok(false, 'an unknown access token is refused (401)');
    } catch (e) {
      ok(e.code === 401 && /invalid authentication credentials/.test(e.message) &&
        e.errors && e.errors[0].reason === 'authError',
      'an unknown access token is refused (401 authError)', `${e.code} ${e.message}`);
    }
  });

  await step('the quota', async () => {
    const {token} = await good.jwt.getAccessToken();
    let status = 0;
    for (let i = 0; i < 700 && status !== 429; i++) {
      const r = await fetch(`${FAKE}/dns/v1/projects/${good.key.project_id}/managedZones?maxResults=1`,
        {headers: {Authorization: `Bearer ${token}`}});
      status = r.status;
      await r.arrayBuffer();
    }
    ok(status === 429, 'the quota runs out within 700 requests');
    try {
      await dns(good, {autoRetry: false, maxRetries: 0}).getZones();
      ok(false, 'over the quota: 429 rateLimitExceeded, retries off');
    } catch (e) {
      ok(e.code === 429 && e.errors && e.errors[0].reason === 'rateLimitExceeded',
        'over the quota: 429 rateLimitExceeded, retries off', `${e.code} ${e.message}`);
    }
  });
}

tap.run(main);
