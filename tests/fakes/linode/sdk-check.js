// Linode's Node SDK (@linode/api-v4) against the linode fake: every
// operation the linode plugin uses, TAP, one point per check.
//   node sdk-check.js URL TOKEN LIMITED_URL   (URL: the fake, rate limit scaled away;
//                                              LIMITED_URL: one whose listing limit is spent)
// The SDK's request URLs are absolute (https://api.linode.com/v4/...), so a
// request interceptor on its axios instance (baseRequest) moves them to the fake.
'use strict'
const linode = require('@linode/api-v4')
const { check, run } = require('../common/tap')
const [url, token, limitedUrl] = process.argv.slice(2)
const ROOT = 'https://api.linode.com/v4'
let target = url
linode.baseRequest.interceptors.request.use((config) => {
  if (config.url && config.url.startsWith(ROOT)) config.url = target + '/v4' + config.url.slice(ROOT.length)
  return config
})
// a call's answer, or its error as {status, body, headers}
const call = (p) => p.then((v) => v, (e) => ({
  error: true,
  status: e.response ? e.response.status : 0,
  body: e.response ? e.response.data : String(e),
  headers: e.response ? e.response.headers : {}
}))

async function main () {
  let auth = linode.setToken(token)
  const all = await call(linode.getDomains({ page: 1, page_size: 25 }))
  check('getDomains: page 1 of 2 (two a page), results 3', !all.error && all.page === 1 && all.pages === 2 && all.results === 3 && all.data.length === 2, all)
  const p2 = await call(linode.getDomains({ page: 2, page_size: 25 }))
  check('getDomains: page 2 holds the third domain', !p2.error && p2.page === 2 && p2.data.length === 1, p2)
  const one = await call(linode.getDomains({ page: 1, page_size: 25 }, { domain: 'sdk.test' }))
  check('getDomains with the X-Filter {"domain"}: that one domain, its numeric id', !one.error && one.results === 1 && one.data[0].domain === 'sdk.test' && Number.isInteger(one.data[0].id), one)
  const small = await call(linode.getDomains({ page: 1, page_size: 10 }))
  check('getDomains with page_size 10: 400 on the field page_size', small.error && small.status === 400 && small.body.errors[0].field === 'page_size', small)
  const id = one.data[0].id

  const made = []
  for (let i = 0; i < 5; i++) made.push(await call(linode.createDomainRecord(id, { type: 'TXT', name: `p${i}.page`, target: `page record ${i}`, ttl_sec: 300 })))
  check('createDomainRecord: five TXT, each answered with its id', made.every((r) => !r.error && Number.isInteger(r.id) && r.ttl_sec === 300), made)
  const seen = []
  let pages = 0
  for (let page = 1; page <= 10; page++) {
    const r = await call(linode.getDomainRecords(id, { page, page_size: 25 }))
    if (r.error) { check('getDomainRecords pages', false, r); break }
    pages = r.pages
    seen.push(...r.data)
    if (page >= r.pages) break
  }
  check('getDomainRecords: five records over three pages', pages === 3 && seen.length === 5, { pages, n: seen.length })
  check('getDomainRecords: name relative, TXT target as sent, no quotes', seen.some((r) => r.name === 'p0.page' && r.target === 'page record 0'), seen[0])

  const long = 'v=TLSRPTv1; rua=' + '0'.repeat(300)
  const big = await call(linode.createDomainRecord(id, { type: 'TXT', name: '_smtp._tls', target: long, ttl_sec: 300 }))
  check('createDomainRecord: a TXT of 316 octets kept as one target', !big.error && big.target === long, big)

  const upd = await call(linode.updateDomainRecord(id, made[0].id, { target: 'v=STSv1; id=changed', ttl_sec: 3600 }))
  check('updateDomainRecord: new target and TTL', !upd.error && upd.target === 'v=STSv1; id=changed' && upd.ttl_sec === 3600, upd)
  const odd = await call(linode.updateDomainRecord(id, made[0].id, { ttl_sec: 60 }))
  check('updateDomainRecord: a TTL of 60 is kept as 30 (rounded to the nearest valid value)', !odd.error && odd.ttl_sec === 30, odd)
  const cname = await call(linode.createDomainRecord(id, { type: 'CNAME', name: 'p1.page', target: 'elsewhere.example.net', ttl_sec: 300 }))
  check('createDomainRecord: a CNAME beside a TXT is a 400 {"errors": [{"reason", "field"}]}', cname.error && cname.status === 400 && /CNAME/.test(cname.body.errors[0].reason), cname)

  const del = await call(linode.deleteDomainRecord(id, made[1].id))
  check('deleteDomainRecord: 200 {}', !del.error && Object.keys(del).length === 0, del)
  const gone = await call(linode.getDomainRecord(id, made[1].id))
  check('getDomainRecord of the deleted record: 404 "Not found"', gone.error && gone.status === 404 && gone.body.errors[0].reason === 'Not found', gone)

  linode.baseRequest.interceptors.request.eject(auth)
  auth = linode.setToken('not-the-token')
  const bad = await call(linode.getDomains())
  check('a wrong token: 401 "Invalid Token"', bad.error && bad.status === 401 && bad.body.errors[0].reason === 'Invalid Token', bad)
  linode.baseRequest.interceptors.request.eject(auth)

  linode.setToken(token)
  target = limitedUrl
  const limited = await call(linode.getDomains())
  check('a listing past the limit: 429 with Retry-After and X-RateLimit-*, no retry', limited.error && limited.status === 429 &&
    Number(limited.headers['retry-after']) > 0 && limited.headers['x-ratelimit-remaining'] === '0' && limited.headers['x-ratelimit-limit'] === '200', limited)
}

run(main)
