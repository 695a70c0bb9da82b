/**
 * What a run of a scheduled benchmark does, as BAI's cron-job component does it: re-publish the
 * scheduled fetcher event as a single run (a new action id, the schedule as its parent), which the
 * executor then runs like any other, and tell the schedule's action that a run was spawned.
 */
import { randomUUID } from "node:crypto";
import { descriptorTable } from "./descriptor";
import { BaiEvent, FetcherPayload, Sender, derive, isObject } from "./events";

/** The single-run fetcher event for one run of `scheduled`; throws when it has no [info]. */
export function spawnRun(scheduled: BaiEvent, sender: Sender, newId: string = randomUUID()): BaiEvent {
  const payload = scheduled.payload as FetcherPayload;
  // The executor reads contents first; a schedule sent with its TOML only gets its table here.
  const table = structuredClone(descriptorTable(payload)) as Record<string, unknown>;
  if (!isObject(table.info)) throw new Error("the scheduled event's descriptor has no [info] section");
  table.info = { ...table.info, scheduling: "single_run" };
  return derive(
    scheduled,
    scheduled.type,
    { ...payload, toml: { ...payload.toml, contents: table } },
    sender,
    { actionId: newId, parentActionId: scheduled.action_id },
  );
}
