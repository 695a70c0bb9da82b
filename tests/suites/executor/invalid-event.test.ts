// A descriptor BAI's parser refuses is answered with status ERROR naming the problem, and nothing
// is created in the cluster.
import { expect } from "chai";
import { byAction, harness, kube } from "@inception/harness";
import { bai, statusOf, StatusEvent, toToml } from "@inception/harness/profiles/bai";
import { benchmark } from "./support";

const h = harness(bai);

/** A descriptor without one of the fields BAI requires. */
function without(section: string, key?: string): { descriptor: string; contents: Record<string, unknown> } {
  const { contents } = benchmark({ command: "echo never" });
  if (key === undefined) delete contents[section];
  else delete (contents[section] as Record<string, unknown>)[key];
  return { descriptor: toToml(contents), contents };
}

describe("executor: invalid event", () => {
  const cases = [
    {
      name: "a descriptor without spec_version",
      descriptor: () => without("spec_version"),
      reason: /spec_version/,
    },
    {
      name: "a descriptor without hardware.instance_type",
      descriptor: () => without("hardware", "instance_type"),
      reason: /instance_type/,
    },
    {
      name: "a descriptor without an image",
      descriptor: () => without("env", "docker_image"),
      reason: /docker_image/,
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
