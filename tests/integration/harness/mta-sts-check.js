// node mta-sts-check.js DOMAIN... -> one JSON line per domain and mode (lax, strict).
// Run inside the client namespace with NODE_PATH=$STS_TB_NODE_PATH and
// NODE_EXTRA_CA_CERTS=$STS_TB_CA (tb.sh's tb_mailauth does both).
// MX names checked against each policy: $STS_TB_MX_OK (default mail.example.test)
// and $STS_TB_MX_BAD (default evil.example.test).
const { getPolicy, validateMx } = require('mailauth/lib/mta-sts');
const mxOk = process.env.STS_TB_MX_OK || 'mail.example.test';
const mxBad = process.env.STS_TB_MX_BAD || 'evil.example.test';
(async () => {
    for (const domain of process.argv.slice(2)) {
        for (const strict of [false, true]) {
            const { policy, status, warnings } = await getPolicy(domain, null, { strict, timeout: 10000 });
            console.log(JSON.stringify({
                domain, strict, status, id: policy.id, mode: policy.mode, mx: policy.mx, maxAge: policy.maxAge,
                error: policy.error && `${policy.error.code || ''} ${policy.error.message}`.trim(),
                warnings: warnings || [],
                mxOk: validateMx(mxOk, policy).valid,
                otherMxOk: validateMx(mxBad, policy).valid
            }));
        }
    }
})().catch(err => { console.error(err); process.exit(1); });
