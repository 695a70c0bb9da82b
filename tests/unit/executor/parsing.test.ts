/** The executor's input side: envelopes, descriptors (TOML through smol-toml), settings. */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { createHash } from "node:crypto";
import { parse as parseToml } from "smol-toml";
import { EventBuilder, descriptor } from "../../harness/profiles/bai";
import { ConfigError, loadConfig } from "../../../services/executor/src/config";
import {
  DescriptorError,
  descriptorTable,
  docSource,
  isCron,
  parseDescriptor,
} from "../../../services/executor/src/descriptor";
import { InvalidEvent, decode, derive } from "../../../services/executor/src/events";

const DESCRIPTOR = `# a benchmark
spec_version = "0.1.0"
[info]
task_name = "hello"   # a comment
scheduling = "single_run"
[env]
docker_image = "busybox:1.36"
[env.vars]
MODE = "quick"
RUNS = 3
[ml]
command = "echo 'hello # not a comment'"
args = [
  "--epochs", "1",  # spans lines
]
[hardware]
instance_type = "local"
`;

describe("executor: event envelopes", () => {
  it("decodes an event built by the suite's harness (the two models agree)", () => {
    const e = new EventBuilder().fetcher({ descriptor: DESCRIPTOR });
    const got = decode(Buffer.from(JSON.stringify(e)));
    expect(got).to.deep.equal(e);
  });

  it("the harness sends toml.doc as BAI does: the file base64-encoded, sha1 of the file", () => {
    const { descriptor: doc, contents } = descriptor({ image: "busybox:1.36", command: "echo hi" });
    const e = new EventBuilder().fetcher({ descriptor: doc, contents });
    expect(Buffer.from(e.payload.toml.doc, "base64").toString("utf8")).to.equal(doc);
    expect(e.payload.toml.sha1).to.equal(createHash("sha1").update(doc).digest("hex"));
    expect(docSource(e.payload.toml.doc)).to.equal(doc);
    // Plain TOML in doc is read as it is.
    expect(docSource('a = "b"')).to.equal('a = "b"');
  });

  it("the harness' descriptors are BAI's: its TOML is its table, and the executor accepts both", () => {
    const built = descriptor({
      image: "busybox:1.36",
      command: 'echo "quoted"\necho two',
      schedule: "*/5 * * * *",
      labels: { team: "perf" },
      extra: {
        data: {
          sources: [
            { src: "s3://a", path: "/a" },
            { src: "s3://b", path: "/b" },
          ],
        },
        output: { metrics: [{ name: "acc", units: "ratio", pattern: "acc=(\\d+)" }] },
      },
    });
    const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
    expect(plain(parseToml(built.descriptor))).to.deep.equal(built.contents);
    expect(built.descriptor).to.include("[[data.sources]]").and.include("[info.labels]");
    const fromDoc = parseDescriptor({
      toml: { contents: {}, doc: built.descriptor, sha1: "" },
      datasets: [],
    });
    const fromContents = parseDescriptor({
      toml: { contents: built.contents, doc: "", sha1: "" },
      datasets: [],
    });
    expect(fromDoc).to.deep.equal(fromContents);
    expect(fromDoc).to.deep.include({
      schedule: "*/5 * * * *",
      labels: { team: "perf" },
      strategy: "single_node",
    });
  });

  for (const [what, value, answerable] of [
    ["an empty message", "", false],
    ["text that is not JSON", "{nope", false],
    ["a JSON list", "[1,2]", false],
    ["an event without action_id", JSON.stringify({ message_id: "m", client_id: "c", payload: {} }), false],
    ["an event without payload", JSON.stringify({ action_id: "a-1", message_id: "m", client_id: "c" }), true],
    [
      "an event with a numeric client_id",
      JSON.stringify({ action_id: "a-1", message_id: "m", client_id: 7, payload: {} }),
      true,
    ],
  ] as const) {
    it(`rejects ${what}${answerable ? ", keeping the envelope to answer" : ""}`, () => {
      let err: unknown;
      try {
        decode(value);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(InvalidEvent);
      expect((err as InvalidEvent).envelope !== undefined).to.equal(answerable);
    });
  }

  it("reads an empty parent_action_id as none", () => {
    const e = { ...new EventBuilder().fetcher(), parent_action_id: "" };
    expect(decode(JSON.stringify(e)).parent_action_id).to.equal(null);
  });

  it("derives an answer: same action and client, fresh message id, visited extended", () => {
    const src = new EventBuilder().fetcher({ parentActionId: "a-parent" });
    const out = derive(src, "T", { x: 1 }, { svc: "executor", version: "1", node: "n1" }, { now: 42 });
    expect(out).to.include({
      action_id: src.action_id,
      parent_action_id: "a-parent",
      client_id: src.client_id,
      type: "T",
    });
    expect(out.message_id).to.not.equal(src.message_id);
    expect(out.visited.at(-1)).to.deep.equal({ svc: "executor", tstamp: 42, version: "1", node: "n1" });
    expect(out.visited).to.have.length(src.visited.length + 1);
  });
});

describe("executor: descriptor TOML", () => {
  const table = (doc: string) => descriptorTable({ toml: { contents: {}, doc, sha1: "" }, datasets: [] });
  // smol-toml makes tables without a prototype: compare them as plain objects.
  const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

  it("reads tables, strings, numbers, booleans, arrays and comments", () => {
    const t = table(DESCRIPTOR + 'flag = true\npi = 3.5\nesc = "a\\"b\\u0041"\nlit = \'c:\\\\x\'\n');
    expect(t.spec_version).to.equal("0.1.0");
    expect(plain(t.info)).to.deep.equal({ task_name: "hello", scheduling: "single_run" });
    expect(plain(t.env)).to.deep.equal({ docker_image: "busybox:1.36", vars: { MODE: "quick", RUNS: 3 } });
    expect((t.ml as Record<string, unknown>).command).to.equal("echo 'hello # not a comment'");
    expect(plain((t.ml as Record<string, unknown>).args)).to.deep.equal(["--epochs", "1"]);
    expect(plain(t.hardware)).to.deep.include({
      instance_type: "local",
      flag: true,
      pi: 3.5,
      esc: 'a"bA',
      lit: "c:\\\\x",
    });
  });

  it("reads what the old subset parser refused: multi-line strings, arrays of tables, inline tables", () => {
    const t = table(
      [
        "[ml]",
        'command = """',
        "echo one",
        'echo two"""',
        "script = '''",
        "raw \\n stays'''",
        "[[data.sources]]",
        'src = "s3://a"',
        "[[data.sources]]",
        'src = "s3://b"',
        "[env]",
        'vars = { MODE = "quick", RUNS = 2 }',
        'docker_image = "busybox:1.36"',
        'hardware.instance_type = "local"',
      ].join("\n"),
    );
    expect(plain(t)).to.deep.equal({
      ml: { command: "echo one\necho two", script: "raw \\n stays" },
      data: { sources: [{ src: "s3://a" }, { src: "s3://b" }] },
      env: {
        vars: { MODE: "quick", RUNS: 2 },
        docker_image: "busybox:1.36",
        hardware: { instance_type: "local" },
      },
    });
  });

  for (const [src, msg] of [
    ["[a]\n[a]", /TOML line 2, column \d+: .*already defined/],
    ["a = 1\na = 2", /TOML line 2, column \d+/],
    ['a = "x', /TOML line 1, column \d+/],
    ["just words", /TOML line 1, column \d+/],
    ["a = 1 2", /TOML line 1, column \d+/],
    [`a = ${"[".repeat(40)}${"]".repeat(40)}`, /TOML line 1, column \d+: .*nested/],
  ] as const) {
    it(`refuses ${JSON.stringify(src.slice(0, 30))} with the line`, () => {
      expect(() => table(src)).to.throw(DescriptorError, msg);
    });
  }

  for (const key of ["__proto__", "constructor", "prototype"]) {
    for (const [where, doc] of [
      ["a table", `[${key}]\npolluted = 1`],
      ["a nested table", `[env.${key}]\npolluted = 1`],
      ["a key", `[env]\n${key} = "x"`],
      ["an inline table", `[env]\nvars = { a = { ${key} = { polluted = 1 } } }`],
      ["an array of tables", `[[${key}]]\npolluted = 1`],
      ["a quoted dotted key", `"${key}".polluted = 1`],
    ]) {
      it(`refuses ${key} in ${where}, and nothing is polluted`, () => {
        expect(() => table(doc)).to.throw(DescriptorError, new RegExp(`forbidden key .*${key}`));
        expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      });
    }
  }
});

describe("executor: descriptors (BAI's rules, tests/fixtures/descriptors)", () => {
  const dir = path.join(__dirname, "..", "..", "fixtures", "descriptors");
  const payload = (doc: string) => ({ toml: { contents: {}, doc, sha1: "" }, datasets: [] });
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".toml"));

  it("has at least 20 fixtures, accepted and refused", () => {
    expect(files.length).to.be.at.least(20);
    expect(files.filter((f) => f.startsWith("ok-")).length).to.be.at.least(5);
  });

  for (const file of files) {
    const doc = fs.readFileSync(path.join(dir, file), "utf8");
    const expected = /^# expect: (.*)$/m.exec(doc)?.[1];
    if (file.startsWith("ok-")) {
      it(`accepts ${file}`, () => {
        expect(() => parseDescriptor(payload(doc))).to.not.throw();
      });
    } else {
      it(`refuses ${file}: ${expected}`, () => {
        expect(expected, "a refused fixture names its reason").to.be.a("string");
        expect(() => parseDescriptor(payload(doc))).to.throw(DescriptorError, new RegExp(expected!));
      });
    }
  }

  it("reads what it runs: command, strategy, labels, schedule, instances, server", () => {
    const read = (f: string) => parseDescriptor(payload(fs.readFileSync(path.join(dir, f), "utf8")));
    expect(read("ok-single-node-full.toml")).to.deep.include({
      image: "busybox:1.36",
      command: ["/bin/sh", "-c", "echo one\necho two --epochs 1"],
      env: { MODE: "quick" },
      strategy: "single_node",
      labels: {},
    });
    expect(read("ok-minimal.toml")).to.not.have.property("instanceType");
    expect(read("ok-horovod.toml")).to.deep.include({ strategy: "horovod", instances: 3 });
    expect(read("ok-horovod-gpus.toml").instanceType).to.equal("p3.8xlarge");
    expect(read("ok-scheduled-labels.toml")).to.deep.include({
      schedule: "0 3 * * 1-5",
      labels: { team: "perf", task_name: "nightly" },
    });
    expect(read("ok-inference.toml").server).to.deep.equal({
      image: "nginx:1.27",
      ports: [8080],
      command: ["/bin/sh", "-c", "serve --port 8080"],
      env: {},
    });
  });

  it("refuses with each problem named", () => {
    expect(() => parseDescriptor(payload(""))).to.throw(DescriptorError, /neither contents nor doc/);
    try {
      parseDescriptor({ toml: { contents: { spec_version: 1 }, doc: "", sha1: "" }, datasets: [] });
      expect.fail("no error");
    } catch (e) {
      expect((e as DescriptorError).problems).to.deep.equal([
        "spec_version: must be a string",
        "info: missing value for a required field",
        "hardware: missing value for a required field",
        "env: missing value for a required field",
      ]);
    }
  });

  it("knows a cron schedule", () => {
    for (const c of ["*/1 * * * *", "0 3 * * 1-5", "@hourly", "15,45 */2 1 jan,feb ?"])
      expect(isCron(c), c).to.equal(true);
    for (const c of ["* * * *", "every minute", "* * * * * *", ""]) expect(isCron(c), c).to.equal(false);
  });
});

describe("executor: settings", () => {
  it("has BAI's defaults", () => {
    const c = loadConfig({ KAFKA_BOOTSTRAP_SERVERS: "kafka.ns.svc:9092", POD_NAMESPACE: "ns" });
    expect(c).to.deep.include({
      brokers: ["kafka.ns.svc:9092"],
      groupId: "executor",
      namespace: "ns",
      healthPort: 8080,
      topics: {
        fetcher: "BAI_APP_FETCHER",
        executor: "BAI_APP_EXECUTOR",
        status: "BAI_APP_STATUS",
        cmdSubmit: "CMD_SUBMIT",
        cmdReturn: "CMD_RETURN",
      },
    });
    expect(c.fault).to.equal(undefined);
  });

  it("reads the fault switch, node selector and topics", () => {
    const c = loadConfig({
      KAFKA_BOOTSTRAP_SERVERS: "a:1,b:2",
      JOB_NAMESPACE: "jobs",
      POD_NAMESPACE: "other",
      EXECUTOR_FAULT: "drop-executor-event",
      EXECUTOR_JOB_NODE_SELECTOR: "node.type=bai-worker, zone=z",
      TOPIC_STATUS: "S",
      KAFKA_TOPICS: "BAI_APP_FETCHER,BAI_APP_EXECUTOR,S,CMD_SUBMIT,CMD_RETURN,BAI_METRICS",
    });
    expect(c).to.deep.include({ fault: "drop-executor-event", namespace: "jobs", brokers: ["a:1", "b:2"] });
    expect(c.nodeSelector).to.deep.equal({ "node.type": "bai-worker", zone: "z" });
    expect(c.topics.status).to.equal("S");
  });

  it("names every problem in one error", () => {
    try {
      loadConfig({
        KAFKA_BOOTSTRAP_SERVERS: "nohost",
        EXECUTOR_FAULT: "x",
        TOPIC_FETCHER: "a b",
        HEALTH_PORT: "0",
      });
      expect.fail("no error");
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      const p = (e as ConfigError).problems.join("\n");
      for (const v of [
        "KAFKA_BOOTSTRAP_SERVERS",
        "EXECUTOR_FAULT",
        "TOPIC_FETCHER",
        "HEALTH_PORT",
        "JOB_NAMESPACE",
      ]) {
        expect(p).to.include(v);
      }
    }
  });

  it("refuses topics the broker does not have (KAFKA_TOPICS from the outputs ConfigMap)", () => {
    expect(() =>
      loadConfig({
        KAFKA_BOOTSTRAP_SERVERS: "a:1",
        POD_NAMESPACE: "n",
        KAFKA_TOPICS: "BAI_APP_FETCHER,CMD_SUBMIT",
      }),
    ).to.throw(ConfigError, /BAI_APP_EXECUTOR, BAI_APP_STATUS, CMD_RETURN are not in KAFKA_TOPICS/);
  });
});
