/**
 * The e2e scripts' steps (scripts/lib.sh e2e_step): a failed step is recorded and the
 * independent steps after it still run; the verdict names every failed step and fails.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as path from "path";

const root = path.resolve(__dirname, "../..");

function steps(body: string): { status: number | null; out: string } {
  const script = `set -euo pipefail
. scripts/env.sh
${body}`;
  const r = spawnSync("/bin/bash", ["-c", script], { cwd: root, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("e2e steps (scripts/lib.sh)", () => {
  it("runs every step after a failed one and names each failure in the verdict", () => {
    const r = steps(`
ok() { true; }
bad() { false; echo "not reached: errexit holds inside a step"; }
dies() { die "the deadline failure does not say so"; }
e2e_step "first" ok
e2e_step "second" bad
e2e_step "third" dies
e2e_step "fourth" ok
e2e_steps_verdict
echo "not reached: the verdict exits"`);
    expect(r.status).to.equal(1);
    expect(r.out).to.match(/e2e step PASSED: first \(\d+s\)/);
    expect(r.out).to.match(/e2e step FAILED: second \(\d+s\)/);
    expect(r.out).to.match(/e2e step FAILED: third \(\d+s\)/);
    expect(r.out).to.match(/e2e step PASSED: fourth \(\d+s\)/);
    expect(r.out).to.contain("the deadline failure does not say so");
    expect(r.out).to.contain("failed e2e step: second");
    expect(r.out).to.contain("failed e2e step: third");
    expect(r.out).to.not.contain("not reached");
  });

  it("follows a failed step with its last lines, which the summary of npm test repeats under its name", () => {
    const r = steps(`
E2E_WHY_LINES=3
noisy() { for i in 1 2 3 4 5; do echo "line $i"; done; echo "stderr too" >&2; die "the up of a failed"; }
e2e_step "noisy" noisy
e2e_step "quiet" true
log=$(mktemp)
# What scripts/test.sh reads: the script's whole output.
{ e2e_step "noisy again" noisy; e2e_step "after" true; } >"$log" 2>&1
echo "SUMMARY"
e2e_step_why "noisy again" "$log"
echo "NONE"
e2e_step_why "after" "$log"
rm -f "$log"`);
    expect(r.status).to.equal(0);
    const [run, summary] = r.out.split("SUMMARY\n");
    // The step's output still streams, and its last 3 lines follow its FAILED line.
    expect(run).to.contain("line 1\n");
    const why = run
      .split("\n")
      .filter((l) => l.includes("e2e step why: "))
      .map((l) => l.replace(/^.*e2e step why: /, ""));
    expect(why).to.deep.equal(["line 5", "stderr too", "[inception] ERROR: the up of a failed"]);
    expect(run.indexOf("e2e step why: line 5")).to.be.greaterThan(run.indexOf("e2e step FAILED: noisy ("));
    expect(run).to.not.match(/PASSED: quiet[^\n]*\n[^\n]*why/);
    expect(summary).to.equal(
      "    | line 5\n    | stderr too\n    | [inception] ERROR: the up of a failed\nNONE\n",
    );
  });

  it("passes when every step passed", () => {
    const r = steps(`
e2e_step "only" true
e2e_steps_verdict
echo "verdict returned"`);
    expect(r.status).to.equal(0);
    expect(r.out).to.contain("verdict returned");
  });
});
