/**
 * Hostile input to the executor's handlers: malformed JSON, wrong types, oversized messages,
 * unknown fields, prototype keys at any depth (in the JSON and in the descriptor's TOML), unknown
 * commands. Every such event is answered (status ERROR, or a non-zero CMD_RETURN) or dropped with one
 * log line; none throws or creates anything; the next valid event still gets the expected Job.
 *
 * The events are generated from a PRNG whose start value is printed: a failure replays with
 * `FUZZ_REPLAY=<value> npx mocha -r ts-node/register/transpile-only tests/unit/executor/hostile.test.ts`.
 */
import { expect } from "chai";
import { DEFAULT_TOPICS } from "../../../services/executor/src/config";
import { parseDescriptor } from "../../../services/executor/src/descriptor";
import { BaiEvent, MAX_MESSAGE_BYTES, PROTOTYPE_KEYS, decode } from "../../../services/executor/src/events";
import { Executor, RC } from "../../../services/executor/src/executor";
import { JOB_LIMITS, renderJob } from "../../../services/executor/src/jobs";
import { memoryLogger } from "../../../services/executor/src/log";
import { FakeBatch, RecordingPublisher } from "./fakes";

const T = DEFAULT_TOPICS;
const SETTINGS = { namespace: "ns", nodeSelector: { pool: "bench" }, topics: { ...T } };

/** mulberry32: a small PRNG with a 32-bit state, enough to replay a run exactly. */
function prng(start: number): () => number {
  let a = start >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** Sets `key` as an own, enumerable property, even `__proto__` (which `o[key] =` would not). */
function own(o: Obj, key: string, value: Json): Obj {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  return o;
}

const RUN =
  'spec_version = "0.1.0"\n[info]\ndescription = "d"\n[hardware]\ninstance_type = "local"\n[env]\ndocker_image = "busybox:1.36"\n[ml]\nbenchmark_code = "echo hi"\n';

function validFetcher(actionId: string, doc = RUN): Obj {
  return {
    action_id: actionId,
    parent_action_id: null,
    message_id: `m-${actionId}`,
    client_id: "c-fuzz",
    client_version: "1",
    client_username: "fuzz",
    authenticated: false,
    tstamp: 1,
    visited: [{ svc: "fuzz", tstamp: 1, version: "1", node: null }],
    type: T.fetcher,
    payload: {
      toml: { contents: {}, doc, sha1: "", descriptor_filename: "d.toml", verified: true },
      datasets: [{ src: "s3://a/b", path: "/data/b" }],
      models: [],
      scripts: [],
    },
  };
}

function validCommand(actionId: string, command: string, args: Json): Obj {
  const e = validFetcher(actionId);
  return { ...e, type: T.cmdSubmit, payload: { command, args } };
}

/** The objects of `e` (paths of keys) where a field can be added: every depth the schema has. */
function objectsOf(e: Json): Obj[] {
  const out: Obj[] = [];
  const walk = (v: Json): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") {
      out.push(v);
      Object.values(v).forEach(walk);
    }
  };
  walk(e);
  return out;
}

const clone = <X>(x: X): X => JSON.parse(JSON.stringify(x));

interface Hostile {
  kind: string;
  topic: "fetcher" | "command";
  value: string;
}

function generator(rand: () => number) {
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rand() * xs.length)];
  const int = (n: number): number => Math.floor(rand() * n);
  const word = (): string =>
    Array.from({ length: 1 + int(10) }, () => pick("abcdefghijklmnopqrstuvwxyz_-0123456789".split(""))).join(
      "",
    );
  let n = 0;
  const actionId = (): string => `f-${++n}`;

  // A value of a type other than what `valid` accepts.
  const wrongValue = (valid: (v: Json) => boolean): Json => {
    const candidates: Json[] = [
      null,
      true,
      0,
      -1.5,
      1e308,
      "",
      word(),
      [],
      [word()],
      {},
      { [word()]: word() },
    ];
    const wrong = candidates.filter((c) => !valid(c));
    return pick(wrong);
  };
  const isStr = (v: Json) => typeof v === "string" && v !== "";
  const isStrOrNull = (v: Json) => v === null || typeof v === "string";
  const isNum = (v: Json) => typeof v === "number";
  const isBool = (v: Json) => typeof v === "boolean";
  const isObj = (v: Json) => v !== null && typeof v === "object" && !Array.isArray(v);
  const isArr = (v: Json) => Array.isArray(v);

  // Fields whose type the executor checks, with what is valid there.
  const typedFields: [string[], (v: Json) => boolean][] = [
    [["message_id"], isStr],
    [["client_id"], isStr],
    [["client_version"], (v) => typeof v === "string"],
    [["authenticated"], isBool],
    [["tstamp"], isNum],
    [["visited"], isArr],
    [["visited", "0", "svc"], (v) => typeof v === "string"],
    [["visited", "0", "tstamp"], isNum],
    [["parent_action_id"], isStrOrNull],
    [["payload"], isObj],
    [["payload", "toml"], isObj],
    [["payload", "toml", "doc"], (v) => typeof v === "string"],
    [["payload", "toml", "sha1"], (v) => typeof v === "string"],
    [["payload", "toml", "contents"], (v) => isObj(v) || typeof v === "string"],
    [["payload", "datasets"], isArr],
    [["payload", "datasets", "0", "src"], (v) => typeof v === "string"],
    [["payload", "models"], (v) => v === null || isArr(v)],
  ];

  const setPath = (o: Obj, p: string[], v: Json): void => {
    let cur: Json = o;
    for (const k of p.slice(0, -1)) cur = (cur as Obj)[k];
    (cur as Obj)[p[p.length - 1]] = v;
  };

  // Prototype keys at several depths of a TOML descriptor.
  const tomlWithPrototypeKey = (key: string): string =>
    pick([
      `[${key}]\npolluted = "yes"\n${RUN}`,
      `${RUN}[env.${key}]\npolluted = "yes"`,
      `${RUN}[ml.a.b.${key}]\nargs = ["x"]`,
      `${RUN}[[${key}]]\npolluted = 1`,
      `${RUN}[[data.${key}]]\npolluted = 1`,
      `[env]\ndocker_image = "busybox:1.36"\nvars = { ${key} = { polluted = "yes" } }`,
      `[env]\ndocker_image = "busybox:1.36"\nvars = { a = { b = { ${key} = 1 } } }`,
      `[env]\ndocker_image = "busybox:1.36"\n"${key}".polluted = 1`,
      `[env]\ndocker_image = "busybox:1.36"\n[env.vars]\n${key} = "x"`,
      `[ml]\ncommand = "x"\n[env]\ndocker_image = "busybox:1.36"\n[info.${key}.nested]\nx = 1`,
    ]);

  const generators: Record<string, () => Hostile> = {
    "malformed JSON": () => {
      const text = JSON.stringify(validFetcher(actionId()));
      const cut = text.slice(0, int(text.length));
      const garbage = pick([
        cut,
        `${cut}}}}`,
        text.replace(/"/g, pick(["'", "", "\\"])),
        word(),
        "\u0000\u0001\u0002",
        "{",
        "[",
        "nul",
        "\uFEFF{}",
        `{"action_id": "${word()}", }`,
      ]);
      return { kind: "malformed JSON", topic: pick(["fetcher", "command"] as const), value: garbage };
    },
    "not an object": () => ({
      kind: "not an object",
      topic: pick(["fetcher", "command"] as const),
      value: JSON.stringify(pick<Json>([null, 1, "s", [], [validFetcher(actionId())], true])),
    }),
    "wrong type": () => {
      const e = validFetcher(actionId());
      const [p, valid] = pick(typedFields);
      setPath(e, p, wrongValue(valid));
      return { kind: `wrong type at ${p.join(".")}`, topic: "fetcher", value: JSON.stringify(e) };
    },
    "wrong action id type": () => {
      const e = validFetcher(actionId());
      e.action_id = wrongValue(isStr);
      return {
        kind: "wrong action_id type",
        topic: pick(["fetcher", "command"] as const),
        value: JSON.stringify(e),
      };
    },
    "unknown field": () => {
      const e = validFetcher(actionId());
      // The descriptor's own keys may be anything; the event's may not.
      const targets = objectsOf(e).filter((o) => o !== (e.payload as Obj).toml || rand() < 0.5);
      const o = pick(targets.filter((x) => x !== ((e.payload as Obj).toml as Obj).contents));
      o[`x_${word()}`] = word();
      return { kind: "unknown field", topic: "fetcher", value: JSON.stringify(e) };
    },
    "prototype key in JSON": () => {
      const key = pick(PROTOTYPE_KEYS);
      const e = validFetcher(actionId());
      const payload = e.payload as Obj;
      const toml = payload.toml as Obj;
      // Several depths: the envelope, the payload, the toml, a data set, a visited entry, and in
      // the parsed descriptor (whose own keys are free) at depth 1 to 6.
      const inContents = (): Obj => {
        const deepest: Obj = {};
        toml.contents = {
          env: { docker_image: "busybox:1.36", vars: {} },
          data: { sources: [{ a: { b: deepest } }] },
        };
        const contents = toml.contents as Obj;
        return pick([contents, contents.env as Obj, (contents.env as Obj).vars as Obj, deepest]);
      };
      const where = pick<() => Obj>([
        () => e,
        () => payload,
        () => toml,
        () => (payload.datasets as Obj[])[0],
        () => (e.visited as Obj[])[0],
        inContents,
      ])();
      own(where, key, pick<Json>([{ polluted: "yes" }, "yes", [{ polluted: 1 }], null]));
      return {
        kind: `prototype key ${key} in JSON`,
        topic: pick(["fetcher", "command"] as const),
        value: JSON.stringify(e),
      };
    },
    "prototype key in TOML": () => {
      const key = pick(PROTOTYPE_KEYS);
      const e = validFetcher(actionId(), tomlWithPrototypeKey(key));
      if (rand() < 0.3) ((e.payload as Obj).toml as Obj).contents = ((e.payload as Obj).toml as Obj).doc;
      return { kind: `prototype key ${key} in TOML`, topic: "fetcher", value: JSON.stringify(e) };
    },
    "bad descriptor": () => {
      const doc = pick([
        "",
        "[env]\ndocker_image = 5",
        '[env]\ndocker_image = "a b"',
        `${RUN}[resources]\ncpu = "64"`,
        `${RUN}[resources]\nmemory = "1Ti"`,
        `${RUN}[resources]\ndeadline_seconds = 0`,
        `${RUN}[resources]\ndeadline_seconds = 1e9`,
        `${RUN}[info]\nscheduling = "sometimes"`,
        `${RUN}[hardware]\ninstance_type = "a b"`,
        `${RUN}[env.vars]\n"1X" = "v"`,
        `[ml\n${RUN}`,
        `${RUN}x = ${"[".repeat(50)}${"]".repeat(50)}`,
        `${RUN}d = 1979-05-27T07:32:00Z\n[env.vars]\nA = 1979-05-27`,
      ]);
      return {
        kind: "bad descriptor",
        topic: "fetcher",
        value: JSON.stringify(validFetcher(actionId(), doc)),
      };
    },
    "bad action id": () => {
      // An upper-case id is no bad id: BAI lower-cases it for the Job name (b-upper).
      const id = pick(["a_b", "a".repeat(70), "-a", "a.", "a b"]);
      return { kind: "bad action id", topic: "fetcher", value: JSON.stringify(validFetcher(id)) };
    },
    "deep nesting": () => {
      const depth = pick([40, 1000, 100_000]);
      const e = JSON.stringify(validFetcher(actionId()));
      const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`;
      return {
        kind: `nesting ${depth} deep`,
        topic: pick(["fetcher", "command"] as const),
        value: e.replace('"scripts":[]', `"scripts":${deep}`),
      };
    },
    oversized: () => {
      const e = validFetcher(actionId());
      ((e.payload as Obj).toml as Obj).doc = `${RUN}# ${"x".repeat(MAX_MESSAGE_BYTES)}`;
      return { kind: "oversized", topic: pick(["fetcher", "command"] as const), value: JSON.stringify(e) };
    },
    "unknown command": () => {
      const cmd = pick([word(), "CANCEL", "delete", "__proto__", "constructor", "cancel ", ""]);
      return {
        kind: "unknown command",
        topic: "command",
        value: JSON.stringify(validCommand(actionId(), cmd, { target_action_id: "a-1" })),
      };
    },
    "bad command arguments": () => {
      const args = pick<Json>([
        { target_action_id: "a-1", extra: word() },
        { target_action_id: 5 },
        { target_action_id: "x y" },
        {},
        [],
        [7],
        "a-1",
        5,
        { cascade: true },
      ]);
      return {
        kind: "bad command arguments",
        topic: "command",
        value: JSON.stringify(validCommand(actionId(), "cancel", args)),
      };
    },
    "prototype key in command": () => {
      const key = pick(PROTOTYPE_KEYS);
      const e = validCommand(actionId(), "cancel", { target_action_id: "a-1" });
      const where = pick([e, e.payload as Obj, (e.payload as Obj).args as Obj]);
      own(where, key, { polluted: "yes" });
      return { kind: `prototype key ${key} in a command`, topic: "command", value: JSON.stringify(e) };
    },
  };
  // Rare, expensive ones (1 MiB each) are drawn less often.
  const weighted = Object.keys(generators).flatMap((k) => (k === "oversized" ? [k] : [k, k, k, k, k]));
  return { next: (): Hostile => generators[pick(weighted)](), generators };
}

const start = process.env.FUZZ_REPLAY !== undefined ? Number(process.env.FUZZ_REPLAY) : Date.now() % 2 ** 32;

describe("executor: hostile input (fuzz)", () => {
  before(() => console.log(`      fuzz run ${start} (replay: FUZZ_REPLAY=${start})`));

  it("answers or drops 1,500 hostile events, creates nothing, and the next valid event gets the expected Job", async function () {
    this.timeout(60_000);
    const batch = new FakeBatch();
    const pub = new RecordingPublisher();
    const log = memoryLogger();
    const executor = new Executor(batch, pub, SETTINGS, { svc: "executor", version: "test" }, log);
    const prototypes = [Object.prototype, Array.prototype, Function.prototype].map((p) =>
      Object.getOwnPropertyNames(p).sort(),
    );

    // The Job a valid event gets, rendered before any hostile input was seen.
    const valid = validFetcher("valid-after");
    const expected = clone(
      renderJob(decode(JSON.stringify(valid)), parseDescriptor(valid.payload), SETTINGS),
    );

    const gen = generator(prng(start));
    const kinds = new Map<string, number>();
    for (let i = 0; i < 1500; i++) {
      const h = gen.next();
      kinds.set(h.kind.split(" at ")[0], (kinds.get(h.kind.split(" at ")[0]) ?? 0) + 1);
      const sentBefore = pub.sent.length;
      const logBefore = log.lines.length;
      const what = `event ${i} (${h.kind}; FUZZ_REPLAY=${start}): ${h.value.slice(0, 300)}`;
      try {
        if (h.topic === "fetcher") await executor.onFetcherMessage(Buffer.from(h.value));
        else await executor.onCommandMessage(Buffer.from(h.value));
      } catch (e) {
        expect.fail(`${what}\nthrew ${String(e)}`);
      }
      const sent = pub.sent.slice(sentBefore).map((s) => s.event.payload as Record<string, unknown>);
      const rejected = sent.some(
        (p) => p.status === "ERROR" || (typeof p.return_code === "number" && p.return_code !== RC.OK),
      );
      if (sent.length === 0) {
        const lines = log.lines.slice(logBefore);
        expect(lines, `${what}\nneither answered nor dropped with one log line`).to.have.length(1);
        expect(String(lines[0].msg), what).to.match(/dropped/);
      } else {
        expect(rejected, `${what}\nnot answered with ERROR: ${JSON.stringify(sent)}`).to.equal(true);
        expect(
          sent.map((p) => p.status),
          what,
        ).to.not.include("SUCCEEDED");
      }
      expect(batch.jobs.length + batch.cronJobs.length, `${what}\ncreated something`).to.equal(0);
      expect(({} as Record<string, unknown>).polluted, what).to.equal(undefined);
    }
    expect(
      batch.calls.filter((c) => c.startsWith("create")),
      "create calls",
    ).to.deep.equal([]);
    // Every kind of hostile input was drawn.
    expect([...kinds.keys()].length, JSON.stringify([...kinds])).to.be.at.least(
      Object.keys(gen.generators).length - 1,
    );

    // Nothing leaked into the prototypes, and the defaults are unchanged.
    expect(
      [Object.prototype, Array.prototype, Function.prototype].map((p) =>
        Object.getOwnPropertyNames(p).sort(),
      ),
    ).to.deep.equal(prototypes);
    for (const k of ["polluted", "args", "nodeSelector", "command", "image"]) {
      expect(({} as Record<string, unknown>)[k], k).to.equal(undefined);
    }
    expect(JOB_LIMITS.limits).to.deep.equal({ cpu: "1", memory: "512Mi" });

    pub.sent = [];
    await executor.onFetcherMessage(Buffer.from(JSON.stringify(valid)));
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:SUCCEEDED`, T.executor]);
    expect(batch.jobs).to.have.length(1);
    expect(clone(batch.jobs[0])).to.deep.equal(expected);
    const pod = batch.jobs[0].spec!.template.spec!;
    expect(pod.nodeSelector).to.deep.equal({ pool: "bench" });
    expect(pod.containers[0].args).to.equal(undefined);
    expect(pod.containers[0].command).to.deep.equal(["/bin/sh", "-c", "echo hi"]);
  });
});

describe("executor: hostile input (cases)", () => {
  function setup() {
    const batch = new FakeBatch();
    const pub = new RecordingPublisher();
    const log = memoryLogger();
    const executor = new Executor(batch, pub, SETTINGS, { svc: "executor", version: "test" }, log);
    const statuses = () =>
      pub.on(T.status).map((e: BaiEvent) => e.payload as { status: string; message: string });
    return { batch, pub, log, executor, statuses };
  }

  it("a message over 1 MiB is dropped unread with one log line naming its size and the limit", async () => {
    const { pub, log, executor } = setup();
    const e = validFetcher("big");
    ((e.payload as Obj).toml as Obj).doc = `${RUN}# ${"x".repeat(MAX_MESSAGE_BYTES)}`;
    await executor.onFetcherMessage(Buffer.from(JSON.stringify(e)));
    expect(pub.sent).to.deep.equal([]);
    expect(log.lines).to.have.length(1);
    expect(String(log.lines[0].reason)).to.match(/message of \d+ bytes is over the limit of 1048576 bytes/);
    // Just under the limit is read.
    ((e.payload as Obj).toml as Obj).doc = RUN;
    const size = Buffer.byteLength(JSON.stringify(e));
    ((e.payload as Obj).toml as Obj).doc = `${RUN}#${"x".repeat(MAX_MESSAGE_BYTES - size - 1)}`;
    expect(Buffer.byteLength(JSON.stringify(e))).to.equal(MAX_MESSAGE_BYTES);
    await executor.onFetcherMessage(JSON.stringify(e));
    expect(pub.summary()).to.deep.equal([`${T.status}:PENDING`, `${T.status}:SUCCEEDED`, T.executor]);
  });

  it("an unknown field: ERROR naming it, the payload not echoed back", async () => {
    const { pub, executor, statuses } = setup();
    await executor.onFetcherMessage(JSON.stringify({ ...validFetcher("a-1"), extra: 1 }));
    expect(statuses().map((s) => s.status)).to.deep.equal(["ERROR"]);
    expect(statuses()[0].message).to.equal('invalid event: Unrecognized key: "extra"');
    expect((pub.sent[0].event.payload as { src_event: BaiEvent }).src_event.payload).to.equal(null);
    const e = validFetcher("a-2");
    ((e.payload as Obj).datasets as Obj[])[0].extra = 1;
    await executor.onFetcherMessage(JSON.stringify(e));
    expect(statuses()[2].message).to.match(/^invalid event: payload\.datasets\.0: Unrecognized key: "extra"/);
  });

  it("a prototype key: ERROR naming where, for JSON and for TOML", async () => {
    const { executor, statuses, batch } = setup();
    const json = validFetcher("a-1");
    own((json.payload as Obj).toml as Obj as Obj, "__proto__", { polluted: "yes" });
    await executor.onFetcherMessage(JSON.stringify(json));
    expect(statuses()[0].message).to.equal(
      "invalid event: the event has the forbidden key payload.toml.__proto__",
    );
    await executor.onFetcherMessage(JSON.stringify(validFetcher("a-2", `${RUN}[ml.constructor]\nx = 1`)));
    expect(statuses().map((s) => s.status)).to.deep.equal(["ERROR", "PENDING", "ERROR"]);
    expect(statuses()[2].message).to.equal(
      "invalid descriptor: the descriptor has the forbidden key ml.constructor",
    );
    expect(batch.jobs).to.have.length(0);
  });

  it("an unknown command: not answered (as BAI: another service's command)", async () => {
    const { pub, executor } = setup();
    await executor.onCommandMessage(JSON.stringify(validCommand("a-1", "reboot", null)));
    expect(pub.summary()).to.deep.equal([]);
  });

  it("a descriptor may ask for other limits and deadline within bounds, not beyond", async () => {
    const { batch, executor, statuses } = setup();
    const doc = `${RUN}[resources]\ncpu = "50m"\nmemory = "2Gi"\ndeadline_seconds = 60\n`;
    await executor.onFetcherMessage(JSON.stringify(validFetcher("a-1", doc)));
    const job = batch.jobs[0];
    expect(job.spec!.activeDeadlineSeconds).to.equal(60);
    expect(job.spec!.template.spec!.containers[0].resources).to.deep.equal({
      requests: { cpu: "50m", memory: "128Mi" },
      limits: { cpu: "50m", memory: "2Gi" },
    });
    await executor.onFetcherMessage(
      JSON.stringify(
        validFetcher("a-2", `${RUN}[resources]\ncpu = 8\nmemory = "64Gi"\ndeadline_seconds = 100000\n`),
      ),
    );
    const message = statuses().at(-1)!.message;
    expect(message).to.match(/cpu 8 is over the limit of 4/);
    expect(message).to.match(/memory 64Gi is over the limit of 8Gi/);
    expect(message).to.match(/deadline_seconds must be a whole number from 1 to 86400/);
    expect(batch.jobs).to.have.length(1);
  });
});
