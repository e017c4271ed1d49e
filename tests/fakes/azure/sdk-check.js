// sdk-check.js (run by sdk-check.sh): the vendor's SDK against the azure
// fake, TAP. @azure/identity's ClientSecretCredential gets the token from
// the fake's token endpoint (instance discovery off, the authority host at
// the fake); @azure/arm-dns's DnsManagementClient does every operation
// plugins/azure uses, and each answer must parse.
"use strict";
const fs = require("fs");
const http = require("http");
const https = require("https");
const { DnsManagementClient } = require("@azure/arm-dns");
const { ClientSecretCredential } = require("@azure/identity");

const E = process.env;
const SCOPE = "https://management.azure.com/.default";
let n = 0;
let failed = 0;
const ok = (cond, what, why) => {
  n++;
  if (cond) console.log(`ok ${n} - ${what}`);
  else {
    failed++;
    console.log(`not ok ${n} - ${what}`);
    if (why !== undefined) console.log(`# ${String(why).split("\n").join("\n# ")}`);
  }
};

// a TLS front before one listener of the fake (the SDKs want https)
function front(target) {
  const up = new URL(target);
  const srv = https.createServer(
    { key: fs.readFileSync(E.AZ_TLS_KEY), cert: fs.readFileSync(E.AZ_TLS_CRT) },
    (req, res) => {
      const headers = Object.assign({}, req.headers, { "x-forwarded-proto": "https" });
      const p = http.request(
        { host: up.hostname, port: up.port, method: req.method, path: req.url, headers },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        }
      );
      p.on("error", () => res.destroy());
      req.pipe(p);
    }
  );
  return new Promise((resolve) =>
    srv.listen(0, "127.0.0.1", () => resolve({ srv, url: `https://127.0.0.1:${srv.address().port}` }))
  );
}

async function state(url) {
  const r = await fetch(`${url}/_fake/state`);
  return (await r.json()).zones;
}

async function stats(url) {
  return (await fetch(`${url}/_fake/stats`)).json();
}

async function all(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}

async function fails(what, fn, check) {
  try {
    await fn();
    ok(false, what, "no error");
  } catch (e) {
    const why = check(e);
    ok(why === true, what, why === true ? undefined : `${why}: ${e.statusCode} ${e.code} ${e.message}`);
  }
}

function client(cred, endpoint, extra) {
  return new DnsManagementClient(
    cred,
    E.AZ_SUB,
    Object.assign({ endpoint, credentialScopes: SCOPE }, extra || {})
  );
}

function credential(login, secret) {
  return new ClientSecretCredential(E.AZ_TENANT, E.AZ_CLIENT, secret, {
    authorityHost: login,
    disableInstanceDiscovery: true,
  });
}

async function main() {
  const api = await front(E.AZ_URL);
  const login = await front(E.AZ_LOGIN);
  const rlApi = await front(E.AZ_RL_URL);
  const rlLogin = await front(E.AZ_RL_LOGIN);
  const rg = E.AZ_RG;
  const cred = credential(login.url, E.AZ_SECRET);

  // the token (client credentials grant at the fake's token endpoint)
  try {
    const t = await cred.getToken(SCOPE);
    ok(t && typeof t.token === "string" && t.expiresOnTimestamp > Date.now() + 3000 * 1000,
      "ClientSecretCredential: a token from the fake's token endpoint, with its lifetime");
  } catch (e) {
    ok(false, "ClientSecretCredential: a token from the fake's token endpoint, with its lifetime", e.message);
  }
  await fails("ClientSecretCredential: a wrong secret is refused with AADSTS7000215",
    () => credential(login.url, "not-the-secret").getToken(SCOPE),
    (e) => /AADSTS7000215/.test(e.message) || "another error");

  const dns = client(cred, api.url);
  // zones: 4, pages of 2
  await fetch(`${E.AZ_URL}/_fake/stats/reset`, { method: "POST" });
  try {
    const zones = await all(dns.zones.listByResourceGroup(rg));
    const names = zones.map((z) => z.name).sort();
    ok(names.join(",") === "sdk.test,z1.test,z2.test,z3.test",
      "zones.listByResourceGroup: every zone, over pages (nextLink)", names);
    const st = await stats(E.AZ_URL);
    ok(st.reads >= 2, "zones.listByResourceGroup: the listing took several pages", JSON.stringify(st));
    ok(zones.every((z) => z.etag && z.nameServers && z.nameServers.length === 4 && z.zoneType === "Public"),
      "zones: etag, name servers and zone type parse", JSON.stringify(zones[0]));
  } catch (e) {
    ok(false, "zones.listByResourceGroup", e.message);
  }

  // create: If-None-Match: *
  let etag;
  try {
    const rs = await dns.recordSets.createOrUpdate(rg, "sdk.test", "_mta-sts", "TXT",
      { ttl: 300, txtRecords: [{ value: ["v=STSv1; id=1"] }] }, { ifNoneMatch: "*" });
    etag = rs.etag;
    ok(rs.name === "_mta-sts" && rs.ttl === 300 && rs.txtRecords[0].value[0] === "v=STSv1; id=1" &&
      rs.fqdn === "_mta-sts.sdk.test." && etag,
      "recordSets.createOrUpdate with ifNoneMatch '*': created, the answer parses", JSON.stringify(rs));
  } catch (e) {
    ok(false, "recordSets.createOrUpdate with ifNoneMatch '*'", e.message);
  }
  await fails("recordSets.createOrUpdate with ifNoneMatch '*' where one is: 412 PreconditionFailed",
    () => dns.recordSets.createOrUpdate(rg, "sdk.test", "_mta-sts", "TXT",
      { ttl: 300, txtRecords: [{ value: ["x"] }] }, { ifNoneMatch: "*" }),
    (e) => (e.statusCode === 412 && e.code === "PreconditionFailed") || "not a 412");

  // change: If-Match: etag; a foreign TXT of two strings beside ours
  let etag2;
  try {
    const rs = await dns.recordSets.createOrUpdate(rg, "sdk.test", "_mta-sts", "TXT",
      { ttl: 600, txtRecords: [{ value: ["v=STSv1; id=2"] }, { value: ["google-site-verification=a", "second string"] }] },
      { ifMatch: etag });
    etag2 = rs.etag;
    ok(rs.ttl === 600 && rs.txtRecords.length === 2 && rs.txtRecords[1].value.length === 2 && etag2 !== etag,
      "recordSets.createOrUpdate with ifMatch: changed, a new etag", JSON.stringify(rs));
  } catch (e) {
    ok(false, "recordSets.createOrUpdate with ifMatch", e.message);
  }
  await fails("recordSets.createOrUpdate with a stale ifMatch: 412 PreconditionFailed (not overwritten)",
    () => dns.recordSets.createOrUpdate(rg, "sdk.test", "_mta-sts", "TXT",
      { ttl: 300, txtRecords: [{ value: ["lost update"] }] }, { ifMatch: etag }),
    (e) => (e.statusCode === 412 && e.code === "PreconditionFailed") || "not a 412");
  try {
    const rs = await dns.recordSets.get(rg, "sdk.test", "_mta-sts", "TXT");
    ok(rs.etag === etag2 && rs.txtRecords[0].value[0] === "v=STSv1; id=2",
      "recordSets.get: the record set as changed", JSON.stringify(rs));
  } catch (e) {
    ok(false, "recordSets.get", e.message);
  }
  const st1 = await state(E.AZ_URL);
  const txt = st1["sdk.test"].filter((r) => r.name === "_mta-sts.sdk.test" && r.type === "TXT");
  ok(txt.length === 2 && txt.some((r) => r.content === '"google-site-verification=a" "second string"'),
    "the fake's state holds what the SDK wrote (two strings stay two strings)", JSON.stringify(txt));

  // the record rules
  await fails("a TXT string over 255 characters: 400 BadRequest",
    () => dns.recordSets.createOrUpdate(rg, "sdk.test", "long", "TXT",
      { ttl: 300, txtRecords: [{ value: ["x".repeat(256)] }] }),
    (e) => (e.statusCode === 400 && e.code === "BadRequest") || "not a 400");
  try {
    const rs = await dns.recordSets.createOrUpdate(rg, "sdk.test", "long", "TXT",
      { ttl: 300, txtRecords: [{ value: ["x".repeat(255), "y".repeat(45)] }] });
    ok(rs.txtRecords[0].value.length === 2, "a TXT of 300 characters in two strings is taken");
  } catch (e) {
    ok(false, "a TXT of 300 characters in two strings is taken", e.message);
  }
  await fails("a CNAME beside a TXT: 409 Conflict",
    () => dns.recordSets.createOrUpdate(rg, "sdk.test", "_mta-sts", "CNAME",
      { ttl: 300, cnameRecord: { cname: "elsewhere.example.net" } }),
    (e) => (e.statusCode === 409 && e.code === "Conflict") || "not a 409");
  try {
    const rs = await dns.recordSets.createOrUpdate(rg, "sdk.test", "www", "CNAME",
      { ttl: 300, cnameRecord: { cname: "elsewhere.example.net" } }, { ifNoneMatch: "*" });
    ok(rs.cnameRecord.cname === "elsewhere.example.net", "a CNAME record set: created, parses");
  } catch (e) {
    ok(false, "a CNAME record set: created, parses", e.message);
  }
  await fails("a TXT beside a CNAME: 409 Conflict",
    () => dns.recordSets.createOrUpdate(rg, "sdk.test", "www", "TXT",
      { ttl: 300, txtRecords: [{ value: ["x"] }] }),
    (e) => (e.statusCode === 409 && e.code === "Conflict") || "not a 409");

  // record sets over pages: SOA, NS, _mta-sts, long, www and 5 more, pages of 2
  try {
    for (let i = 0; i < 5; i++)
      await dns.recordSets.createOrUpdate(rg, "sdk.test", `p${i}`, "TXT", { ttl: 60, txtRecords: [{ value: [`page ${i}`] }] },
        { ifNoneMatch: "*" });
    await fetch(`${E.AZ_URL}/_fake/stats/reset`, { method: "POST" });
    const sets = await all(dns.recordSets.listByDnsZone(rg, "sdk.test", { top: 2 }));
    const st = await stats(E.AZ_URL);
    const types = new Set(sets.map((s) => s.type));
    ok(sets.length === 10 && st.reads === 5,
      "recordSets.listByDnsZone: 10 record sets over 5 pages (nextLink)", `${sets.length} sets, ${st.reads} reads`);
    ok(types.has("Microsoft.Network/dnszones/SOA") && types.has("Microsoft.Network/dnszones/NS") &&
      sets.find((s) => s.name === "@" && s.soaRecord && s.soaRecord.email) &&
      sets.find((s) => s.name === "www" && s.cnameRecord),
      "recordSets.listByDnsZone: SOA, NS, CNAME and TXT record sets parse", [...types].join(","));
  } catch (e) {
    ok(false, "recordSets.listByDnsZone over pages", e.message);
  }

  // delete: If-Match
  await fails("recordSets.delete with a stale ifMatch: 412 PreconditionFailed",
    () => dns.recordSets.delete(rg, "sdk.test", "_mta-sts", "TXT", { ifMatch: etag }),
    (e) => (e.statusCode === 412 && e.code === "PreconditionFailed") || "not a 412");
  try {
    await dns.recordSets.delete(rg, "sdk.test", "_mta-sts", "TXT", { ifMatch: etag2 });
    ok(true, "recordSets.delete with ifMatch: deleted");
  } catch (e) {
    ok(false, "recordSets.delete with ifMatch: deleted", e.message);
  }
  await fails("recordSets.get of the deleted record set: 404 NotFound",
    () => dns.recordSets.get(rg, "sdk.test", "_mta-sts", "TXT"),
    (e) => (e.statusCode === 404 && e.code === "NotFound") || "not a 404");
  await fails("a zone that is not there: 404 ResourceNotFound",
    () => all(dns.recordSets.listByDnsZone(rg, "nope.test")),
    (e) => (e.statusCode === 404 && e.code === "ResourceNotFound") || "not a 404");

  // 401: a token the fake never issued
  const bogus = { getToken: async () => ({ token: "not-a-token", expiresOnTimestamp: Date.now() + 3600e3 }) };
  await fails("a token the service did not issue: 401 InvalidAuthenticationToken",
    () => all(client(bogus, api.url, { retryOptions: { maxRetries: 0 } }).zones.listByResourceGroup(rg)),
    (e) => (e.statusCode === 401 && e.code === "InvalidAuthenticationToken") || "not a 401");

  // 429: the second fake allows 2 writes an hour; retries off
  const rl = client(credential(rlLogin.url, E.AZ_RL_SECRET), rlApi.url, { retryOptions: { maxRetries: 0 } });
  try {
    for (let i = 0; i < 2; i++)
      await rl.recordSets.createOrUpdate(rg, "rl.test", `w${i}`, "TXT", { ttl: 60, txtRecords: [{ value: ["w"] }] });
    ok(true, "rate limit: the allowed writes pass");
  } catch (e) {
    ok(false, "rate limit: the allowed writes pass", e.message);
  }
  await fails("rate limit: 429 SubscriptionRequestsThrottled with Retry-After",
    () => rl.recordSets.createOrUpdate(rg, "rl.test", "w9", "TXT", { ttl: 60, txtRecords: [{ value: ["w"] }] }),
    (e) => (e.statusCode === 429 && e.code === "SubscriptionRequestsThrottled" &&
      Number(e.response.headers.get("retry-after")) > 0) || "not a 429 with Retry-After");
  try {
    const r = await rl.zones.get(rg, "rl.test");
    ok(r.name === "rl.test", "rate limit: reads go on while writes are throttled");
  } catch (e) {
    ok(false, "rate limit: reads go on while writes are throttled", e.message);
  }

  for (const f of [api, login, rlApi, rlLogin]) f.srv.close();
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`not ok ${n + 1} - the check ran to the end`);
  console.log(`# ${e.stack}`);
  console.log(`1..${n + 1}`);
  process.exit(1);
});
