// TAP for a fake's sdk-check.js (tests/fakes/README.md): one point per check.
//   const tap = require('../common/tap')
//   tap.run(async () => { tap.check('what', ok, detail) ... })
// run() prints the plan at the end and exits 1 when a check failed or the
// SDK threw (a throw is one more failed point, with its stack).
'use strict'
let n = 0
let failed = 0

function check (what, ok, detail) {
  n++
  if (!ok) failed++
  console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${what}`)
  if (!ok && detail !== undefined) console.log(`# ${JSON.stringify(detail)}`.slice(0, 400))
  return ok
}

function run (main) {
  main().then(() => {
    console.log(`1..${n}`)
    process.exit(failed ? 1 : 0)
  }, (e) => {
    check('the SDK did not throw', false, String(e && e.stack))
    console.log(`1..${n}`)
    process.exit(1)
  })
}

module.exports = { check, run }
