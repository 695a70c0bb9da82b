#!/usr/bin/env bash
# npm run e2e:example: the fetcher example (examples/fetcher: a service that downloads a file from
# the data server into S3 and announces it on a topic, and its own suite) deployed purely through
# stack config on a throw-away local stack: the stack file is the example's config plus the stage
# and a cluster name, nothing else. Checks the outputs and the artifacts (the worker pods' logs
# collected by the example's own selector), then tears down. Needs the toolchain.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

stack="local-example"
cluster="inception-example"
work="$INCEPTION_ROOT/.inception/e2e-example"
rm -rf "$work" && mkdir -p "$work"
select_stack "$stack" local
# Pulumi.<stack>.yaml = the example's config + stage + cluster name (the stack's salt kept).
node -e '
  const fs = require("fs");
  const YAML = require("yaml");
  const [example, stackFile, cluster] = process.argv.slice(1);
  const mine = fs.existsSync(stackFile) ? YAML.parse(fs.readFileSync(stackFile, "utf8")) ?? {} : {};
  const config = {
    ...YAML.parse(fs.readFileSync(example, "utf8")).config,
    "inception:stage": "local",
    "inception:cluster": { name: cluster },
  };
  fs.writeFileSync(stackFile, YAML.stringify({ ...(mine.encryptionsalt ? { encryptionsalt: mine.encryptionsalt } : {}), config }));
' examples/fetcher/Pulumi.example-config.yaml "Pulumi.$stack.yaml" "$cluster"

trap 'e2e_local_teardown e2e:example "$stack" "$cluster" "$work"' EXIT
trap "exit 130" INT TERM

example_green() {
  local t0
  t0=$(date +%s)
  scripts/up.sh "$stack" 2>&1 | tee "$work/up.log"
  say "e2e:example: up took $(($(date +%s) - t0))s"
  pulumi stack output --stack "$stack" --json >"$work/outputs.json"
  INCEPTION_E2E_OUTPUTS="$work/outputs.json" npx mocha --config tests/.mocharc.e2e.json tests/e2e/example.test.ts
}

e2e_step "the fetcher example through stack config alone: up green, outputs and artifacts" example_green
e2e_steps_verdict
