// node mailauth-cache.js CACHE_FILE DOMAIN,MX_OK,MX_BAD... -> one JSON line per domain.
// A sender's view through mailauth's MTA-STS module in strict mode, with a
// policy cache kept in CACHE_FILE between runs the way an MTA keeps one:
// getPolicy(domain, knownPolicy) fetches only when the TXT id differs from
// the cached policy's id ("found"), else keeps the cached one ("renewed").
// Run in the client namespace with NODE_PATH=$STS_TB_NODE_PATH and
// NODE_EXTRA_CA_CERTS=$STS_TB_CA.
const fs = require('fs');
const { getPolicy, validateMx } = require('mailauth/lib/mta-sts');

const [cacheFile, ...targets] = process.argv.slice(2);
let cache = {};
try {
    cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
} catch (err) {
    cache = {};
}

(async () => {
    for (const target of targets) {
        const [domain, mxOk, mxBad] = target.split(',');
        const { policy, status, warnings } = await getPolicy(domain, cache[domain] || null, { strict: true, timeout: 10000 });
        if (status === 'found' || status === 'renewed') {
            cache[domain] = policy;
        }
        console.log(
            JSON.stringify({
                domain,
                status,
                id: policy.id,
                mode: policy.mode,
                mx: policy.mx,
                maxAge: policy.maxAge,
                mxOk: validateMx(mxOk, policy).valid,
                otherMxOk: validateMx(mxBad, policy).valid,
                error: policy.error && `${policy.error.code || ''} ${policy.error.message}`.trim(),
                warnings: warnings || []
            })
        );
    }
    fs.writeFileSync(cacheFile, JSON.stringify(cache, null, 1));
})().catch(err => {
    console.error(err);
    process.exit(1);
});
