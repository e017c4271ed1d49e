// sdk-check.js: the vendor's SDK (npm cloudflare) against the cloudflare
// fake, run by sdk-check.sh: every operation the plugin uses, each answer
// parsed by the SDK. TAP, one line per check (../common/tap.js).
'use strict';
const Cloudflare = require('cloudflare');
const tap = require('../common/tap');

const base = (url) => url + '/client/v4';
const client = new Cloudflare({ apiToken: process.env.CF_TOKEN, baseURL: base(process.env.CF_URL), maxRetries: 0 });
const wrong = new Cloudflare({ apiToken: 'A'.repeat(40), baseURL: base(process.env.CF_URL), maxRetries: 0 });

// each check: an async function answering [passed, detail]; a throw fails it
async function check(what, fn) {
  try {
    const [ok, detail] = await fn();
    tap.check(what, ok, detail);
  } catch (e) {
    tap.check(what, false, e && e.stack ? e.stack : String(e));
  }
}
async function all(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}
async function refused(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return null;
}

async function main() {
  let zone;
  const created = [];

  await check('tokens.verify: the token is active', async () => {
    const v = await client.user.tokens.verify();
    return [v.status === 'active' && typeof v.id === 'string', JSON.stringify(v)];
  });
  await check('zones.list({name}): the one zone, its id', async () => {
    const zs = await all(client.zones.list({ name: 'sdk.test' }));
    zone = zs[0];
    return [zs.length === 1 && zone.name === 'sdk.test' && /^[0-9a-f]{32}$/.test(zone.id), JSON.stringify(zs)];
  });
  await check('zones.list: every zone over several pages of 5', async () => {
    const zs = await all(client.zones.list({ per_page: 5 }));
    return [zs.length === 7 && new Set(zs.map((z) => z.name)).size === 7, zs.map((z) => z.name).join(' ')];
  });
  await check('dns.records.create: TXT records, quoted content kept', async () => {
    for (let i = 0; i < 12; i++) {
      const r = await client.dns.records.create({
        zone_id: zone.id, type: 'TXT', name: `p${i}.sdk.test`, content: `"v=STSv1; id=${i}"`, ttl: 300,
      });
      created.push(r);
    }
    const r = created[3];
    return [created.length === 12 && r.content === '"v=STSv1; id=3"' && r.ttl === 300 && r.name === 'p3.sdk.test' &&
      /^[0-9a-f]{32}$/.test(r.id), JSON.stringify(r)];
  });
  await check('dns.records.create: a TXT over 255 octets comes back split', async () => {
    const r = await client.dns.records.create({ zone_id: zone.id, type: 'TXT', name: 'long.sdk.test', content: `"${'x'.repeat(300)}"`, ttl: 1 });
    created.push(r);
    return [r.content === `"${'x'.repeat(255)}" "${'x'.repeat(45)}"` && r.ttl === 1, r.content];
  });
  await check('dns.records.list: auto-pagination over 3 pages of 5', async () => {
    const pages = [];
    const first = await client.dns.records.list({ zone_id: zone.id, per_page: 5 });
    for await (const page of first.iterPages()) pages.push(page);
    const recs = pages.flatMap((p) => p.result);
    return [pages.length >= 3 && recs.length === 13 && pages[0].result_info.total_pages === 3 &&
      pages[0].result_info.total_count === 13, `${pages.length} pages, ${recs.length} records`];
  });
  await check('dns.records.list({name: {exact}, type}): the one record', async () => {
    const recs = await all(client.dns.records.list({ zone_id: zone.id, name: { exact: 'p7.sdk.test' }, type: 'TXT' }));
    return [recs.length === 1 && recs[0].id === created[7].id, JSON.stringify(recs)];
  });
  await check('dns.records.edit: content and TTL of one record', async () => {
    const r = await client.dns.records.edit(created[0].id, { zone_id: zone.id, content: '"v=STSv1; id=edited"', ttl: 3600 });
    return [r.content === '"v=STSv1; id=edited"' && r.ttl === 3600 && r.id === created[0].id, JSON.stringify(r)];
  });
  await check('dns.records.delete: the id back, the record gone', async () => {
    const r = await client.dns.records.delete(created[1].id, { zone_id: zone.id });
    const left = await all(client.dns.records.list({ zone_id: zone.id, name: { exact: 'p1.sdk.test' } }));
    return [r.id === created[1].id && left.length === 0, JSON.stringify(r)];
  });
  await check('dns.records.batch: deletes, patches and posts in one request', async () => {
    const b = await client.dns.records.batch({
      zone_id: zone.id,
      deletes: [{ id: created[2].id }],
      patches: [{ id: created[3].id, content: '"v=STSv1; id=patched"', ttl: 600 }],
      posts: [{ type: 'TXT', name: '_mta-sts.sdk.test', content: '"v=STSv1; id=posted"', ttl: 300 }],
    });
    return [b.deletes.length === 1 && b.deletes[0].id === created[2].id && b.patches[0].content === '"v=STSv1; id=patched"' &&
      b.patches[0].ttl === 600 && b.posts[0].name === '_mta-sts.sdk.test' && b.puts.length === 0, JSON.stringify(b)];
  });
  await check('dns.records.batch: a CNAME in the way refuses the whole batch (400, 81054)', async () => {
    await client.dns.records.create({ zone_id: zone.id, type: 'CNAME', name: 'c.sdk.test', content: 'elsewhere.example.net', ttl: 300 });
    const e = await refused(() => client.dns.records.batch({
      zone_id: zone.id,
      deletes: [{ id: created[4].id }],
      posts: [{ type: 'TXT', name: 'c.sdk.test', content: '"v=STSv1; id=x"', ttl: 300 }],
    }));
    const still = await all(client.dns.records.list({ zone_id: zone.id, name: { exact: 'p4.sdk.test' } }));
    return [e instanceof Cloudflare.BadRequestError && e.errors[0].code === 81054 && still.length === 1, e];
  });
  await check('a wrong token: 403 PermissionDeniedError, 9109 Invalid access token', async () => {
    const e = await refused(() => all(wrong.zones.list({ name: 'sdk.test' })));
    return [e instanceof Cloudflare.PermissionDeniedError && e.status === 403 && e.errors[0].code === 9109 &&
      e.errors[0].message === 'Invalid access token', e];
  });
  await check('a wrong token at tokens.verify: 401 AuthenticationError', async () => {
    const e = await refused(() => wrong.user.tokens.verify());
    return [e instanceof Cloudflare.AuthenticationError && e.status === 401 && e.errors[0].code === 1000, e];
  });
  await check('a rate-limited request: 429 RateLimitError with Retry-After and Ratelimit headers', async () => {
    const rl = new Cloudflare({ apiToken: process.env.CF_RL_TOKEN, baseURL: base(process.env.CF_RL_URL), maxRetries: 0 });
    let err = null;
    for (let sent = 0; !err && sent < 1300; sent += 4) {
      const got = await Promise.all(Array.from({ length: 4 }, () => rl.user.tokens.verify().then(() => null, (e) => e)));
      err = got.find((e) => e) || null;
    }
    const h = err && err.headers;
    return [err instanceof Cloudflare.RateLimitError && Number(h.get('retry-after')) > 0 &&
      /^"default";r=0;t=\d+$/.test(h.get('ratelimit')) && /q=1200/.test(h.get('ratelimit-policy')) && err.errors[0].code === 971,
    err && `${err.constructor.name} ${err.message} ${JSON.stringify(h && Object.fromEntries(h))}`];
  });
}

tap.run(main);
