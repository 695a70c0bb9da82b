// An event the executor cannot run is answered with status ERROR naming the problem, and nothing
// is created in the cluster.
import { expect } from "chai";
import { byAction, harness, kube } from "@inception/harness";
import { bai, statusOf, StatusEvent } from "@inception/harness/profiles/bai";
import { benchmark, toToml } from "./support";

const h = harness(bai);

describe("executor: invalid event", () => {
  const cases = [
    {
      name: "a descriptor without an image",
      descriptor: () => ({ descriptor: toToml({ info: { description: "no image" } }) }),
      reason: /image/,
    },
    {
      name: "a schedule that is not cron",
      descriptor: () => benchmark({ command: "echo never", schedule: "every minute" }),
      reason: /scheduling/,
    },
  ];
  for (const c of cases) {
    it(`answers ${c.name} with status ERROR and creates nothing`, async () => {
      const k = kube();
      const bad = bai.events.fetcher(c.descriptor());
      await h.send(h.topics.fetcher, bad);
      const error = await h.waitFor<StatusEvent>(h.topics.status, statusOf(bad.action_id, "ERROR"), {
        description: "status ERROR",
      });
      expect(error.payload.message).to.match(c.reason);
      expect(await k.list("job", byAction(bad.action_id))).to.deep.equal([]);
      expect(await k.list("cronjob", byAction(bad.action_id))).to.deep.equal([]);
    });
  }
});
