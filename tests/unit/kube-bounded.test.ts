/** A single API request has a deadline too: one that never answers fails naming what it was. */
import { expect } from "chai";
import { bounded } from "@inception/kube";

describe("bounded: one API request with a deadline", () => {
  it("passes the answer through", async () => {
    expect(await bounded("listing jobs", Promise.resolve(42), 1000)).to.equal(42);
  });

  it("fails a request that never answers, naming it", async () => {
    const never = new Promise<number>(() => undefined);
    const t0 = Date.now();
    const e = await bounded("resuming Job n/suite-1", never, 50).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(e?.message).to.equal("no answer from the API server after 50 ms resuming Job n/suite-1");
    expect(Date.now() - t0).to.be.at.least(45);
  });

  it("keeps the request's own error", async () => {
    const e = await bounded("listing pods", Promise.reject(new Error("403 Forbidden")), 1000).catch(
      (err: Error) => err,
    );
    expect((e as Error).message).to.equal("403 Forbidden");
  });
});
