/**
 * Just enough of a Kubernetes API server for the suite hook's unit tests, on a free local port:
 * namespaced list and watch (label selectors) of pods, Jobs and Deployments, events by object uid,
 * container logs (current and previous), JSON Patch and delete of Jobs. A test plays the
 * controllers: it changes objects with `put` (watches see it) and reacts to the hook's patches
 * with `onPatch`.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubernetesObject } from "@kubernetes/client-node";

export type Obj = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

export interface Patch {
  plural: string;
  name: string;
  ops: { op: string; path: string; value?: unknown }[];
  at: number;
}

export class FakeKube {
  rv = 100;
  readonly store = new Map<string, Map<string, Obj>>(); // plural -> name -> object
  /** Container logs by `<pod>/<container>` and `<pod>/<container>/previous`. */
  readonly logs = new Map<string, string>();
  /** Events by the uid of the object they are about. */
  readonly events = new Map<string, { reason: string; message: string; type?: string }[]>();
  readonly patches: Patch[] = [];
  readonly deleted: { plural: string; name: string }[] = [];
  /** Plurals whose requests are answered 403, as for a kubeconfig without the right. */
  readonly forbidden = new Set<string>();
  /** Called after a patch was applied: the test's controller. */
  onPatch: (p: Patch, o: Obj) => void = () => undefined;
  private readonly watches = new Set<{ plural: string; selector: string; res: ServerResponse }>();
  private readonly server: Server = createServer((req, res) => this.handle(req, res));
  url = "";

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const w of this.watches) w.res.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** A kubeconfig (YAML) of this server, context "fake". */
  kubeconfig(): string {
    return [
      "apiVersion: v1",
      "kind: Config",
      // Plain HTTP: the client refuses it unless TLS verification is off.
      "clusters: [{name: fake, cluster: {server: '" + this.url + "', insecure-skip-tls-verify: true}}]",
      "users: [{name: fake, user: {token: t}}]",
      "contexts: [{name: fake, context: {cluster: fake, user: fake}}]",
      "current-context: fake",
    ].join("\n");
  }

  get(plural: string, name: string): Obj | undefined {
    return this.store.get(plural)?.get(name);
  }

  put(plural: string, o: Obj): Obj {
    const m = this.store.get(plural) ?? new Map<string, Obj>();
    this.store.set(plural, m);
    const type = m.has(o.metadata!.name!) ? "MODIFIED" : "ADDED";
    o.metadata = { uid: `uid-${o.metadata!.name}`, ...o.metadata, resourceVersion: String(++this.rv) };
    m.set(o.metadata.name!, o);
    this.notify(plural, type, o);
    return o;
  }

  private notify(plural: string, type: string, o: Obj): void {
    for (const w of this.watches) {
      if (w.plural === plural && matches(o, w.selector))
        w.res.write(JSON.stringify({ type, object: o }) + "\n");
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const m = /\/namespaces\/[^/]+\/([a-z]+)(?:\/([^/]+)(?:\/(log))?)?$/.exec(url.pathname);
    if (!m) return void res.writeHead(404).end();
    const [, plural, name, log] = m;
    const q = url.searchParams;
    if (this.forbidden.has(plural)) {
      res.writeHead(403, { "content-type": "application/json" });
      return void res.end(
        JSON.stringify({ kind: "Status", code: 403, reason: "Forbidden", message: `${plural} is forbidden` }),
      );
    }
    if (log) {
      const key = `${name}/${q.get("container")}${q.get("previous") === "true" ? "/previous" : ""}`;
      const text = this.logs.get(key);
      if (text === undefined) return void res.writeHead(400).end(`no log ${key}`);
      return void res.writeHead(200, { "content-type": "text/plain" }).end(text);
    }
    res.setHeader("content-type", "application/json");
    if (req.method === "PATCH" && name) return this.patch(req, res, plural, name);
    if (req.method === "DELETE" && name) {
      this.store.get(plural)?.delete(name);
      this.deleted.push({ plural, name });
      return void res.end(JSON.stringify({ kind: "Status", status: "Success" }));
    }
    if (plural === "events") {
      const uid = /involvedObject\.uid=(.*)/.exec(q.get("fieldSelector") ?? "")?.[1] ?? "";
      const items = (this.events.get(uid) ?? []).map((e, i) => ({
        metadata: { name: `e${i}` },
        involvedObject: { uid },
        type: e.type ?? "Normal",
        reason: e.reason,
        message: e.message,
        lastTimestamp: new Date(1_700_000_000_000 + i * 1000).toISOString(),
      }));
      return void res.end(JSON.stringify({ metadata: {}, items }));
    }
    const selector = q.get("labelSelector") ?? "";
    if (q.get("watch") === "true") {
      res.writeHead(200).flushHeaders();
      const w = { plural, selector, res };
      this.watches.add(w);
      req.on("close", () => this.watches.delete(w));
      return;
    }
    const items = [...(this.store.get(plural)?.values() ?? [])].filter((o) => matches(o, selector));
    res.end(JSON.stringify({ metadata: { resourceVersion: String(this.rv) }, items }));
  }

  private patch(req: IncomingMessage, res: ServerResponse, plural: string, name: string): void {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString("utf8")));
    req.on("end", () => {
      const o = this.get(plural, name);
      if (!o) {
        res.statusCode = 404;
        return void res.end(JSON.stringify({ kind: "Status", code: 404, message: `${name} not found` }));
      }
      const p: Patch = { plural, name, ops: JSON.parse(body), at: Date.now() };
      this.patches.push(p);
      for (const op of p.ops) setPath(o as Record<string, unknown>, op.path, op.value);
      this.put(plural, o);
      res.end(JSON.stringify(o));
      this.onPatch(p, o);
    });
  }
}

function setPath(o: Record<string, unknown>, pointer: string, value: unknown): void {
  const keys = pointer.split("/").slice(1);
  let at = o;
  for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
  at[keys[keys.length - 1]] = value;
}

/** `k=v` and bare `k` (exists) terms, comma-separated, all of which must hold. */
function matches(o: Obj, selector: string): boolean {
  const labels = o.metadata?.labels ?? {};
  for (const term of selector.split(",").filter(Boolean)) {
    const eq = /^([^=]+)=(.*)$/.exec(term);
    if (eq ? labels[eq[1]] !== eq[2] : !(term in labels)) return false;
  }
  return true;
}
