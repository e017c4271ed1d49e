// The OVHcloud Node SDK (@ovhcloud/node-ovh) against the ovh fake: every
// operation the ovh plugin uses, through requestPromised, TAP, one point a check.
//   node sdk-check.js PORT AK AS CK LIMITED_PORT
// The SDK speaks https only (require('https').request): it is pointed at the
// fake's plain HTTP by handing the https module's request to http's before
// the SDK loads; host, port and basePath are the SDK's own options, and it
// still signs "https://127.0.0.1/1.0/...", which the fake accepts as the URL
// the client used.
'use strict'
const http = require('http')
const https = require('https')
https.request = http.request
const Ovh = require('@ovhcloud/node-ovh')
const [port, ak, as, ck, limitedPort] = process.argv.slice(2)
const zone = 'sdk.test'
const { check, run } = require('../common/tap')
const client = (p, secret) => Ovh({ appKey: ak, appSecret: secret, consumerKey: ck, host: '127.0.0.1', port: Number(p), basePath: '/1.0' })
async function attempt (promise) {
  try { return { ok: true, v: await promise } } catch (e) { return { ok: false, e } }
}

async function main () {
  const ovh = client(port, as)
  const t = await attempt(ovh.requestPromised('GET', '/auth/time'))
  check('GET /auth/time: the server time, a number', t.ok && Number.isInteger(t.v), t)
  check('the fake\'s clock is off ours: the SDK keeps the difference', t.ok && Math.abs(t.v - Math.round(Date.now() / 1000) - 1000) <= 2, t.v)

  const zones = await attempt(ovh.requestPromised('GET', '/domain/zone'))
  check('GET /domain/zone (signed): the zone names', zones.ok && Array.isArray(zones.v) && zones.v.includes(zone), zones)

  const made = []
  for (let i = 0; i < 3; i++) {
    made.push(await attempt(ovh.requestPromised('POST', `/domain/zone/${zone}/record`, { fieldType: 'TXT', subDomain: `_mta-sts.r${i}`, target: `"v=STSv1; id=${i}"`, ttl: 300 })))
  }
  check('POST /domain/zone/{zone}/record: three TXT created, each answered with its id', made.every((m) => m.ok && Number.isInteger(m.v.id) && m.v.subDomain.startsWith('_mta-sts.r')), made)
  const ids = made.map((m) => m.ok ? m.v.id : 0)

  const all = await attempt(ovh.requestPromised('GET', `/domain/zone/${zone}/record`, { fieldType: 'TXT' }))
  check('GET .../record?fieldType=TXT: the ids', all.ok && ids.every((id) => all.v.includes(id)), all)
  const one = await attempt(ovh.requestPromised('GET', `/domain/zone/${zone}/record`, { fieldType: 'TXT', subDomain: '_mta-sts.r1' }))
  check('GET .../record?fieldType=TXT&subDomain=: only that name', one.ok && one.v.length === 1 && one.v[0] === ids[1], one)
  const rec = await attempt(ovh.requestPromised('GET', `/domain/zone/${zone}/record/${ids[0]}`))
  check('GET .../record/{id}: the record as created', rec.ok && rec.v.fieldType === 'TXT' && rec.v.subDomain === '_mta-sts.r0' && rec.v.target === '"v=STSv1; id=0"' && rec.v.ttl === 300 && rec.v.zone === zone, rec)

  const put = await attempt(ovh.requestPromised('PUT', `/domain/zone/${zone}/record/${ids[0]}`, { subDomain: '_mta-sts.r0', target: '"v=STSv1; id=changed"', ttl: 600 }))
  check('PUT .../record/{id}: accepted (null)', put.ok && put.v === null, put)
  const after = await attempt(ovh.requestPromised('GET', `/domain/zone/${zone}/record/${ids[0]}`))
  check('GET .../record/{id}: the change is there', after.ok && after.v.target === '"v=STSv1; id=changed"' && after.v.ttl === 600, after)
  const del = await attempt(ovh.requestPromised('DELETE', `/domain/zone/${zone}/record/${ids[1]}`))
  check('DELETE .../record/{id}: accepted (null)', del.ok && del.v === null, del)
  const gone = await attempt(ovh.requestPromised('GET', `/domain/zone/${zone}/record/${ids[1]}`))
  check('GET .../record/{id} of the deleted one: 404 with OVH\'s message', !gone.ok && gone.e.error === 404 && /does not exist/.test(gone.e.message), gone)

  const served = () => new Promise((resolve) => http.get(`http://127.0.0.1:${port}/_fake/state`, (res) => { let b = ''; res.on('data', (c) => { b += c }); res.on('end', () => resolve(JSON.parse(b).zones[zone] || [])) }))
  const before = await served()
  check('before the refresh, nothing of it is served', before.length === 0, before)
  const refresh = await attempt(ovh.requestPromised('POST', `/domain/zone/${zone}/refresh`))
  check('POST .../refresh: accepted (null)', refresh.ok && refresh.v === null, refresh)
  const now = await served()
  check('after the refresh, the records are served', now.length === 2 && now.some((r) => r.content === '"v=STSv1; id=changed"' && r.ttl === 600), now)

  const cname = await attempt(ovh.requestPromised('POST', `/domain/zone/${zone}/record`, { fieldType: 'CNAME', subDomain: '_mta-sts.r2', target: 'elsewhere.example.net.', ttl: 300 }))
  check('POST a CNAME beside a TXT: 400 with OVH\'s message', !cname.ok && cname.e.error === 400 && /CNAME/.test(cname.e.message), cname)

  const bad = client(port, 'not-the-application-secret')
  const sig = await attempt(bad.requestPromised('GET', '/domain/zone'))
  check('a wrong application secret: 400 Invalid signature', !sig.ok && sig.e.error === 400 && sig.e.message === 'Invalid signature', sig)

  // the fair-use limit (60 a minute, the window stretched): a burst of 70 without retries
  const limited = client(limitedPort, as)
  const warm = await attempt(limited.requestPromised('GET', '/domain/zone')) // the SDK asks /auth/time first
  check('the SDK takes the time and signs the first request', warm.ok, warm)
  const burst = [] // five at a time: the fake's listen queue is short
  for (let i = 0; i < 70; i += 5) {
    burst.push(...await Promise.all(Array.from({ length: 5 }, () => attempt(limited.requestPromised('GET', '/domain/zone')))))
  }
  const refused = burst.filter((b) => !b.ok)
  check('70 requests in a burst: 429 with OVH\'s message beyond the limit', refused.length >= 1 && refused.every((b) => b.e.error === 429 && /Too many requests/.test(b.e.message)), refused.slice(0, 2))
  check('70 requests in a burst: 58 answered (60 with /auth/time and the first)', burst.filter((b) => b.ok).length === 58, burst.filter((b) => b.ok).length)
}
run(main)
