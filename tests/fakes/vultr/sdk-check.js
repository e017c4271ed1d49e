// The Vultr Node SDK (@vultr/vultr-node) against the vultr fake: every
// operation the vultr plugin uses, TAP, one point per check.
//   node sdk-check.js URL KEY LIMITED_URL   (URL: the fake, rate limit scaled away;
//                                            LIMITED_URL: one at Vultr's own limit)
'use strict'
const VultrNode = require('@vultr/vultr-node')
const [url, key, limitedUrl] = process.argv.slice(2)
const zone = 'sdk.test'
const { check, run } = require('../common/tap')
const isErr = (r) => r instanceof Error

async function main () {
  const vultr = VultrNode.initialize({ apiKey: key, baseUrl: `${url}/v2` })
  const account = await vultr.account.getAccountInfo()
  check('account.getAccountInfo answers an account', !isErr(account) && account.account && typeof account.account.email === 'string', account)

  const domains = await vultr.dns.listDomains({ per_page: 1 })
  check('dns.listDomains: one domain a page, a next cursor', !isErr(domains) && domains.domains.length === 1 && domains.meta.links.next !== '' && domains.meta.total === 2, domains)
  const more = isErr(domains) ? domains : await vultr.dns.listDomains({ per_page: 1, cursor: domains.meta.links.next })
  check('dns.listDomains with the cursor: the second domain, the last page', !isErr(more) && more.domains.length === 1 && more.domains[0].domain !== domains.domains[0].domain && more.meta.links.next === '', more)

  const made = []
  for (let i = 0; i < 5; i++) {
    const r = await vultr.dns.createRecord({ 'dns-domain': zone, name: `_mta-sts.r${i}`, type: 'TXT', data: `"v=STSv1; id=${i}"`, ttl: 300 })
    made.push(r)
  }
  check('dns.createRecord: five TXT created, each answered with its id', made.every((r) => !isErr(r) && r.record && r.record.id && r.record.data.startsWith('"')), made)

  const seen = []
  let cursor
  let pages = 0
  for (;;) {
    const page = await vultr.dns.listRecords(cursor ? { 'dns-domain': zone, per_page: 2, cursor } : { 'dns-domain': zone, per_page: 2 })
    if (isErr(page)) { check('dns.listRecords pages', false, page.message); break }
    pages++
    seen.push(...page.records)
    cursor = page.meta.links.next
    if (!cursor || pages > 10) break
  }
  check('dns.listRecords: every record over three pages of two, by the cursor', pages === 3 && seen.length === 5, { pages, n: seen.length })
  const first = made[0].record || {}
  check('dns.listRecords: name relative, TXT data quoted as created', seen.some((r) => r.id === first.id && r.name === '_mta-sts.r0' && r.data === '"v=STSv1; id=0"' && r.ttl === 300), seen[0])

  const upd = await vultr.dns.updateRecord({ 'dns-domain': zone, 'record-id': first.id, data: '"v=STSv1; id=changed"', ttl: '600' })
  check('dns.updateRecord: accepted (204, no body)', upd === undefined, upd)
  const got = await vultr.dns.getRecord({ 'dns-domain': zone, 'record-id': first.id })
  check('dns.getRecord: the change is there', !isErr(got) && got.record.data === '"v=STSv1; id=changed"' && got.record.ttl === 600, got)

  const del = await vultr.dns.deleteRecord({ 'dns-domain': zone, 'record-id': made[1].record.id })
  check('dns.deleteRecord: accepted (204, no body)', del === undefined, del)
  const after = await vultr.dns.listRecords({ 'dns-domain': zone, per_page: 500 })
  check('dns.listRecords: the deleted record is gone', !isErr(after) && after.meta.total === 4 && !after.records.some((r) => r.id === made[1].record.id), after)

  const cname = await vultr.dns.createRecord({ 'dns-domain': zone, name: '_mta-sts.r2', type: 'CNAME', data: 'elsewhere.example.net', ttl: 300 })
  check('dns.createRecord: a CNAME beside a TXT is refused (400, Vultr\'s error)', isErr(cname) && /Bad Request: /.test(cname.message), cname.message)
  const unquoted = await vultr.dns.createRecord({ 'dns-domain': zone, name: 'bare', type: 'TXT', data: 'no quotes', ttl: 300 })
  check('dns.createRecord: TXT data without its quotes is refused', isErr(unquoted) && /Bad Request/.test(unquoted.message), unquoted.message)

  const bad = VultrNode.initialize({ apiKey: 'not-the-key', baseUrl: `${url}/v2` })
  const denied = await bad.dns.listDomains()
  check('a wrong key: 401 with Vultr\'s error text', isErr(denied) && denied.message === 'Unauthorized: Invalid API token.', denied.message)

  // Vultr's limit (30 requests a window): a burst of 40 without retries
  const limited = VultrNode.initialize({ apiKey: key, baseUrl: `${limitedUrl}/v2` })
  const burst = [] // five at a time: the fake's listen queue is short
  for (let i = 0; i < 40; i += 5) {
    burst.push(...await Promise.all(Array.from({ length: 5 }, () => limited.dns.listDomains())))
  }
  const refused = burst.filter(isErr)
  check('40 requests in a burst: some refused with 429 Too Many Requests', refused.length >= 1 && refused.every((e) => /^Too Many Requests: /.test(e.message)), refused.map((e) => e.message).slice(0, 2))
  check('40 requests in a burst: 30 answered, the limit', burst.filter((r) => !isErr(r)).length === 30, burst.filter((r) => !isErr(r)).length)
}
run(main)
