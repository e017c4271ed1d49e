// sdk-check.js: AWS's SDK (npm @aws-sdk/client-route-53) against the route53
// fake, run by sdk-check.sh. The SDK signs every request (Signature Version
// 4), so each passing call also proves that the fake's signature check
// accepts a real signature. TAP, one line per check.
'use strict';
const r53 = require('@aws-sdk/client-route-53');
// how the SDK's retry strategy tells a throttling error
const { isThrottlingError } = require('@smithy/core/retry');

const env = process.env;
const mk = (url, id, secret) => new r53.Route53Client({
  region: 'us-east-1', endpoint: url, maxAttempts: 1,
  credentials: { accessKeyId: id, secretAccessKey: secret },
});
const client = mk(env.R53_URL, env.R53_KEY_ID, env.R53_SECRET);
const wrongSecret = mk(env.R53_URL, env.R53_KEY_ID, 'x'.repeat(40));
const wrongKey = mk(env.R53_URL, 'AKIAWRONGWRONGWRONG0', env.R53_SECRET);
const limited = mk(env.R53_RL_URL, env.R53_RL_KEY_ID, env.R53_RL_SECRET);

const tap = require('../common/tap');
// run(what, fn): fn returns [condition, detail]; a throw is a failed point
async function run(what, fn) {
  let res;
  try {
    res = await fn();
  } catch (e) {
    res = [false, (e && e.name ? e.name + ': ' : '') + (e && e.stack ? e.stack : e)];
  }
  tap.check(what, res[0], res[1]);
}
// the error a call ends with (null when it succeeds)
async function failure(p) {
  return p.then(() => null, (e) => e);
}
const send = (cmd, c = client) => c.send(cmd);
const txt = (name, ttl, ...values) => ({
  Name: name, Type: 'TXT', TTL: ttl, ResourceRecords: values.map((v) => ({ Value: v })),
});
const batch = (zoneId, ...changes) => new r53.ChangeResourceRecordSetsCommand({
  HostedZoneId: zoneId, ChangeBatch: { Comment: 'sdk-check', Changes: changes },
});

async function allZones() {
  const zones = [];
  let marker;
  let pages = 0;
  do {
    const page = await send(new r53.ListHostedZonesCommand({ Marker: marker, MaxItems: 5 }));
    pages++;
    zones.push(...page.HostedZones);
    marker = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker && pages < 50);
  return { zones, pages };
}

async function allRrsets(zoneId) {
  const sets = [];
  let start = {};
  let pages = 0;
  for (;;) {
    const page = await send(new r53.ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: 5, ...start }));
    pages++;
    sets.push(...page.ResourceRecordSets);
    if (!page.IsTruncated || pages >= 50) break;
    start = { StartRecordName: page.NextRecordName, StartRecordType: page.NextRecordType };
  }
  return { sets, pages };
}

tap.run(async () => {
  let zoneId;
  await run('ListHostedZones: seven zones over two pages (Marker/NextMarker)', async () => {
    const { zones, pages } = await allZones();
    const sdk = zones.find((z) => z.Name === 'sdk.test.');
    zoneId = sdk && sdk.Id;
    return [zones.length === 7 && pages === 2 && /^\/hostedzone\/Z[A-Z0-9]+$/.test(zoneId || ''),
      JSON.stringify({ pages, zones })];
  });
  let changeId;
  await run('ChangeResourceRecordSets: CREATE of twelve TXT rrsets in one batch', async () => {
    const changes = [];
    for (let i = 1; i <= 12; i++) changes.push({ Action: 'CREATE', ResourceRecordSet: txt(`r${i}.sdk.test.`, 300, `"record ${i}"`) });
    const out = await send(batch(zoneId, ...changes));
    changeId = out.ChangeInfo && out.ChangeInfo.Id;
    return [/^\/change\/C[A-Z0-9]+$/.test(changeId || '') && out.ChangeInfo.Status === 'PENDING', JSON.stringify(out.ChangeInfo)];
  });
  await run('GetChange: the change is INSYNC', async () => {
    const out = await send(new r53.GetChangeCommand({ Id: changeId }));
    return [out.ChangeInfo.Status === 'INSYNC' && out.ChangeInfo.SubmittedAt instanceof Date, JSON.stringify(out.ChangeInfo)];
  });
  await run('ListResourceRecordSets: 14 rrsets (SOA, NS, 12 TXT) over three pages, in Route 53 order', async () => {
    const { sets, pages } = await allRrsets(zoneId);
    const names = sets.map((s) => s.Name + s.Type);
    const r10 = sets.find((s) => s.Name === 'r10.sdk.test.');
    return [sets.length === 14 && pages === 3 && names[0] === 'sdk.test.NS' && names[1] === 'sdk.test.SOA' &&
      r10 && r10.TTL === 300 && r10.ResourceRecords[0].Value === '"record 10"', JSON.stringify({ pages, names })];
  });
  await run('ListResourceRecordSets: from a name and type (StartRecordName, StartRecordType)', async () => {
    const page = await send(new r53.ListResourceRecordSetsCommand({
      HostedZoneId: zoneId, StartRecordName: 'r5.sdk.test', StartRecordType: 'TXT', MaxItems: 1,
    }));
    const s = page.ResourceRecordSets[0];
    return [s && s.Name === 'r5.sdk.test.' && page.IsTruncated === true && page.NextRecordName === 'r6.sdk.test.' &&
      page.NextRecordType === 'TXT', JSON.stringify(page)];
  });
  await run('ChangeResourceRecordSets: UPSERT to two values, one of two strings', async () => {
    await send(batch(zoneId, { Action: 'UPSERT', ResourceRecordSet: txt('r1.sdk.test.', 600, '"a" "b"', '"v=STSv1; id=1"') }));
    const page = await send(new r53.ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: 'r1.sdk.test', StartRecordType: 'TXT', MaxItems: 1 }));
    const s = page.ResourceRecordSets[0];
    return [s.TTL === 600 && s.ResourceRecords.map((r) => r.Value).join('|') === '"a" "b"|"v=STSv1; id=1"', JSON.stringify(s)];
  });
  await run('ChangeResourceRecordSets: DELETE with the current values', async () => {
    await send(batch(zoneId, { Action: 'DELETE', ResourceRecordSet: txt('r2.sdk.test.', 300, '"record 2"') }));
    const { sets } = await allRrsets(zoneId);
    return [!sets.some((s) => s.Name === 'r2.sdk.test.') && sets.length === 13, sets.length];
  });
  const invalid = async (what, ...changes) => run(`ChangeResourceRecordSets: InvalidChangeBatch (${what})`, async () => {
    const e = await failure(send(batch(zoneId, ...changes)));
    return [e instanceof r53.InvalidChangeBatch && e.$metadata.httpStatusCode === 400 && /\S/.test(e.message),
      e ? `${e.name} ${e.$metadata && e.$metadata.httpStatusCode}: ${e.message}` : 'it succeeded'];
  });
  await invalid('CREATE of an rrset that exists', { Action: 'CREATE', ResourceRecordSet: txt('r3.sdk.test.', 300, '"x"') });
  await invalid('DELETE with other values', { Action: 'DELETE', ResourceRecordSet: txt('r3.sdk.test.', 300, '"other"') });
  await invalid('a CNAME beside a TXT', {
    Action: 'CREATE', ResourceRecordSet: { Name: 'r3.sdk.test.', Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: 'elsewhere.test.' }] },
  });
  await invalid('a TXT string over 255 octets', { Action: 'UPSERT', ResourceRecordSet: txt('long.sdk.test.', 300, `"${'x'.repeat(256)}"`) });
  await run('a batch with an invalid change changes nothing', async () => {
    await failure(send(batch(zoneId, { Action: 'DELETE', ResourceRecordSet: txt('r4.sdk.test.', 300, '"record 4"') },
      { Action: 'CREATE', ResourceRecordSet: txt('r5.sdk.test.', 300, '"dup"') })));
    const { sets } = await allRrsets(zoneId);
    return [sets.some((s) => s.Name === 'r4.sdk.test.'), 'r4 was deleted'];
  });
  await run('NoSuchHostedZone (404) for an unknown zone id', async () => {
    const e = await failure(send(new r53.ListResourceRecordSetsCommand({ HostedZoneId: 'ZNOSUCHZONE00' })));
    return [e instanceof r53.NoSuchHostedZone && e.$metadata.httpStatusCode === 404, e && `${e.name}: ${e.message}`];
  });
  await run('a wrong secret access key: SignatureDoesNotMatch (403)', async () => {
    const e = await failure(send(new r53.ListHostedZonesCommand({}), wrongSecret));
    return [e && e.name === 'SignatureDoesNotMatch' && e.$metadata.httpStatusCode === 403, e && `${e.name}: ${e.message}`];
  });
  await run('an unknown access key id: InvalidClientTokenId (403)', async () => {
    const e = await failure(send(new r53.ListHostedZonesCommand({}), wrongKey));
    return [e && e.name === 'InvalidClientTokenId' && e.$metadata.httpStatusCode === 403, e && `${e.name}: ${e.message}`];
  });
  await run('over 5 requests a second: Throttling (400), which the SDK counts as throttling, retries off', async () => {
    const calls = [];
    for (let i = 0; i < 12; i++) calls.push(failure(send(new r53.ListHostedZonesCommand({}), limited)));
    const errs = (await Promise.all(calls)).filter((e) => e);
    const t = errs.find((e) => e.name === 'Throttling');
    return [t && t.$metadata.httpStatusCode === 400 && t.$metadata.attempts === 1 && isThrottlingError(t) &&
      /Rate exceeded/.test(t.message),
    errs.map((e) => `${e.name} ${e.$metadata.httpStatusCode}: ${e.message}`).join('; ') || 'none throttled'];
  });
});
