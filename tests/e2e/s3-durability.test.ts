/**
 * The S3 mock surviving the loss of its pod (scripts/e2e.sh --full runs this after `up`, as a step
 * of its own), the counterpart of the Kafka probe (kafka-durability.ts): keeps putting objects,
 * deletes the gateway's pod after 20 acknowledged puts, keeps going — each object put again until
 * acknowledged — until 20 more are acknowledged once the replacement pod is Ready, then reads every
 * acknowledged object back and lists them: nothing acknowledged is lost.
 *
 * In mocha's process, unlike the Kafka probe: an S3 request is one awaited promise, so a client of
 * the killed pod leaves no rejection behind for a later test to trip over.
 */
import { expect } from "chai";
import * as fs from "fs";
import { CoreV1Api, KubeConfig, V1Pod } from "@kubernetes/client-node";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

const need = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through scripts/e2e.sh)`);
  return v;
};

/** The gateway's pods: the S3 mock's labels (infra/mock/common.ts mockLabels). */
const GATEWAY = "app.kubernetes.io/name=s3,app.kubernetes.io/part-of=inception-mock-infra";
const BEFORE_KILL = 20;
const AFTER_READY = 20;
/** One request's limit: a request to a pod that vanished mid-way must not hang the probe. */
const REQUEST_MS = 5000;

const ready = (p: V1Pod): boolean =>
  (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

describe("S3 mock durability, from the host", () => {
  it("a killed gateway pod comes back and no acknowledged object is lost", async function () {
    this.timeout(330000);
    const out = JSON.parse(fs.readFileSync(need("INCEPTION_E2E_OUTPUTS"), "utf8"));
    const endpoints = out.mockEndpoints as Record<string, string>;
    const namespace = out.namespaceName as string;
    const kc = new KubeConfig();
    kc.loadFromFile(need("INCEPTION_E2E_KUBECONFIG"));
    const core = kc.makeApiClient(CoreV1Api);
    const secret = await core.readNamespacedSecret({ name: "outputs-infrastructure-secrets", namespace });
    const s3 = new S3Client({
      endpoint: endpoints.s3_endpoint_external,
      region: "us-east-1",
      forcePathStyle: true,
      // Every attempt is the probe's own (below), so each acknowledgement is one it saw.
      maxAttempts: 1,
      credentials: {
        accessKeyId: endpoints.s3_access_key,
        secretAccessKey: Buffer.from(secret.data?.s3_secret_key ?? "", "base64").toString(),
      },
    });
    const Bucket = endpoints.s3_buckets.split(",")[0];
    const prefix = `e2e-durable-${Date.now()}/`;
    const limited = () => ({ abortSignal: AbortSignal.timeout(REQUEST_MS) });

    const deadline = Date.now() + 240000;
    const acked: number[] = [];
    let killedAt = -1;
    let restartsBeforeKill = -1;
    let oldUid: string | undefined;
    // Acknowledged puts once the replacement pod was Ready: a dying gateway can still take a few.
    let ackedByNewPod = -1;
    let lastPodCheck = 0;
    let failedPuts = 0;
    for (let i = 0; ackedByNewPod < 0 || acked.length - ackedByNewPod < AFTER_READY; i++) {
      for (;;) {
        if (Date.now() > deadline)
          throw new Error(
            `only ${acked.length} objects acknowledged within 240 s (${failedPuts} puts failed)`,
          );
        try {
          await s3.send(
            new PutObjectCommand({ Bucket, Key: `${prefix}${i}`, Body: `object ${i}` }),
            limited(),
          );
          acked.push(i);
          break;
        } catch {
          failedPuts++;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      if (acked.length === BEFORE_KILL && killedAt < 0) {
        const pods = (await core.listNamespacedPod({ namespace, labelSelector: GATEWAY })).items;
        expect(pods, "one gateway pod").to.have.length(1);
        oldUid = pods[0].metadata?.uid;
        // Restarts before the kill would mean the gateway was unstable on its own.
        restartsBeforeKill = (pods[0].status?.containerStatuses ?? []).reduce(
          (n, c) => n + c.restartCount,
          0,
        );
        await core.deleteNamespacedPod({ name: pods[0].metadata!.name!, namespace, gracePeriodSeconds: 0 });
        killedAt = acked.length;
      } else if (killedAt >= 0 && ackedByNewPod < 0 && Date.now() - lastPodCheck > 1000) {
        lastPodCheck = Date.now();
        const pods = await core
          .listNamespacedPod({ namespace, labelSelector: GATEWAY })
          .then((l) => l.items)
          .catch(() => []);
        if (pods.some((p) => p.metadata?.uid !== oldUid && !p.metadata?.deletionTimestamp && ready(p)))
          ackedByNewPod = acked.length;
      }
    }

    const lost: number[] = [];
    const changed: number[] = [];
    for (const i of acked) {
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket, Key: `${prefix}${i}` }), limited());
        if ((await got.Body?.transformToString()) !== `object ${i}`) changed.push(i);
      } catch {
        lost.push(i);
      }
    }
    let listed = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }),
        limited(),
      );
      listed += page.KeyCount ?? 0;
      token = page.NextContinuationToken;
    } while (token);
    console.log(
      `      S3 durability: ${acked.length} objects acknowledged (${acked.length - ackedByNewPod} by the ` +
        `replacement pod), ${failedPuts} puts failed during the kill and were put again, gateway restarts ` +
        `before the kill: ${restartsBeforeKill}, listed after: ${listed}`,
    );
    expect(killedAt).to.equal(BEFORE_KILL);
    expect(ackedByNewPod).to.be.at.least(BEFORE_KILL);
    expect(acked.length).to.be.at.least(ackedByNewPod + AFTER_READY);
    expect(lost, "acknowledged objects gone").to.deep.equal([]);
    expect(changed, "acknowledged objects with other content").to.deep.equal([]);
    // Each key was put until acknowledged, so the listing holds exactly the acknowledged ones.
    expect(listed).to.equal(acked.length);
  });
});
