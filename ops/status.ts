/**
 * `vace status`: per stack, what it is and what it costs, from its outputs, its state, and (with
 * credentials) the cloud's view of its instance.
 */
import { type ColdStartReport, coldStartOf } from "../smoke/cold-start";
import { ecsTime, listTagged } from "./cloud/inventory";
import type { RpcClient } from "./cloud/rpc";
import { computeSpend, priceFor } from "./spend";
import { firstLine } from "./teardown";

export interface StatusRow {
  stack: string;
  target: string | null;
  state: string;
  expiresAt: string | null;
  minutesLeft: number | null;
  url: string | null;
  instanceType: string | null;
  pricePerHour: number | null;
  currency: string | null;
  spendSoFar: number | null;
  /** The instance's boot timeline, read through the gateway while it runs (ECS only). */
  boot: ColdStartReport["instance"];
  /** Why `boot` is null. */
  bootNote: string | null;
  /** What a smoke of this stack measured from outside (`--report`), or null. */
  outside: OutsideColdStart | null;
}

/** What a smoke measured from outside (its report.json's coldStart), shown beside the rows. */
export interface OutsideColdStart {
  report: string;
  coldStart: ColdStartReport;
}

export interface StatusSources {
  open(
    name: string,
  ): Promise<{ outputs(): Promise<Record<string, unknown>>; resources(): Promise<string[]> }>;
  region(name: string): string | undefined;
  cloud(region: string): { client?: RpcClient; why?: string };
  /** Reads a running endpoint's boot timeline (with the stack's url, token and certificate). */
  bootTimeline?(
    outputs: Record<string, unknown>,
  ): Promise<{ instance: ColdStartReport["instance"]; note: string | null }>;
  /** A smoke's report of this stack, given with `--report`. */
  outside?: OutsideColdStart;
  now?: Date;
}

/** Pure: a `--report` file's outside view; throws, naming the file, when it holds none. */
export function outsideFrom(report: string, text: string): OutsideColdStart {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${report} is not JSON (${(e as Error).message}): give a smoke or e2e report.json`,
    );
  }
  const coldStart = coldStartOf(doc);
  if (!coldStart) {
    throw new Error(
      `${report} has no coldStart section: give the report.json of a smoke or e2e run (vace smoke --deploy-started-at, vace e2e)`,
    );
  }
  return { report, coldStart };
}

const str = (v: unknown) => (typeof v === "string" && v ? v : null);

/** Pure: the words for an instance's cloud state. */
export function instanceState(status: string | undefined, stoppedMode?: string): string {
  if (status === undefined) return "released (the instance is gone)";
  if (status === "Running") return "running";
  if (status === "Stopped") {
    return stoppedMode === "StopCharging"
      ? "stopped by the watchdog (GPU not billed)"
      : "stopped (still billed)";
  }
  return status.toLowerCase();
}

export async function statusRow(name: string, src: StatusSources): Promise<StatusRow> {
  const now = src.now ?? new Date();
  const stack = await src.open(name);
  const [outputs, resources] = await Promise.all([stack.outputs(), stack.resources()]);
  const region = src.region(name) ?? "ap-southeast-1";
  const instanceType = str(outputs.instanceType);
  const price = priceFor(
    instanceType ?? undefined,
    region,
    typeof outputs.hourlyPrice === "number" ? outputs.hourlyPrice : null,
  );
  const expiresAt = str(outputs.expiresAt);
  const left = expiresAt ? Math.round((Date.parse(expiresAt) - now.getTime()) / 60_000) : null;
  const row: StatusRow = {
    stack: name,
    target: str(outputs.target),
    state: "",
    expiresAt,
    minutesLeft: left !== null && Number.isFinite(left) ? left : null,
    url: str(outputs.url),
    instanceType,
    pricePerHour: price.pricePerHour,
    currency: price.currency,
    spendSoFar: null,
    boot: null,
    bootNote: null,
    outside: src.outside ?? null,
  };
  if (resources.length === 0) return { ...row, state: "parked (no resources; its config is kept)" };
  const { client, why } = src.cloud(region);
  if (!client)
    return {
      ...row,
      state: `deployed (${resources.length} resources; cloud state unknown: ${why})`,
    };
  try {
    const instance = (await listTagged(client, { stack: name })).find((r) => r.kind === "instance");
    row.state = instanceState(instance?.instance?.status, instance?.instance?.stoppedMode);
    const created = instance?.instance?.creationTime;
    if (instance?.instance?.status === "Running" && created) {
      row.spendSoFar = computeSpend({
        stack: name,
        target: row.target ?? "ecs",
        region,
        instanceType: instanceType ?? undefined,
        hourlyPrice: typeof outputs.hourlyPrice === "number" ? outputs.hourlyPrice : null,
        startedAt: ecsTime(created),
        startedFrom: "cloud",
        endedAt: now,
        endedFrom: "local clock",
      }).total;
    }
  } catch (e) {
    row.state = `deployed (cloud query failed: ${firstLine(e)})`;
  }
  if (row.state === "running" && row.target === "ecs" && row.url && src.bootTimeline) {
    const { instance, note } = await src.bootTimeline(outputs);
    row.boot = instance;
    row.bootNote = note;
  }
  return row;
}

export async function statusRows(names: string[], src: StatusSources): Promise<StatusRow[]> {
  const rows: StatusRow[] = [];
  for (const n of names) rows.push(await statusRow(n, src));
  return rows;
}

const duration = (s: number) => {
  const whole = Math.round(s);
  return whole >= 60
    ? `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, "0")}s`
    : `${whole}s`;
};

/** The `images` phase's record (boot_timeline.py): how many were baked in and how many pulled. */
function imagesNote(detail: Record<string, unknown> | undefined): string {
  const count = (k: string) => (Array.isArray(detail?.[k]) ? (detail[k] as unknown[]).length : 0);
  return detail && (Array.isArray(detail.present) || Array.isArray(detail.pulled))
    ? ` (${count("present")} present, ${count("pulled")} pulled)`
    : "";
}

/** Pure: the boot timeline on one line, each phase with the time it took after the one before. */
export function formatBoot(boot: NonNullable<ColdStartReport["instance"]>): string {
  let previous = 0;
  const steps = boot.phases.map((p) => {
    const name = `${p.phase}${imagesNote(p.detail)}`;
    if (p.sinceCloudInitS === null) return name;
    const step = `${name} +${duration(p.sinceCloudInitS - previous)}`;
    previous = p.sinceCloudInitS;
    return step;
  });
  const total = boot.phases.at(-1)?.sinceCloudInitS;
  const boots = boot.boots > 1 ? `, ${boot.boots} boots` : "";
  return `${steps.join(", ")}${total != null ? ` (${duration(total)} from cloud-init${boots})` : ""}`;
}

/** Pure: a smoke's outside view, from the deploy start. */
export function formatOutside(o: OutsideColdStart): string {
  const c = o.coldStart;
  const at = (s: number | null) => (s === null ? "unknown" : duration(s));
  if (c.deployStartedAt === null) {
    return `${o.report}: no deploy start recorded (run the smoke with --deploy-started-at)`;
  }
  return `/healthz 200 after ${at(c.healthzAfterDeployS)}, first verified video after ${at(c.videoAfterDeployS)}, from the deploy start ${c.deployStartedAt} (${o.report})`;
}

export function formatStatus(rows: StatusRow[]): string {
  if (rows.length === 0) return "no stacks in this backend\n";
  const out: string[] = [];
  for (const r of rows) {
    const money = (n: number | null) => (n === null ? "unknown" : `${n} ${r.currency}`);
    out.push(
      `${r.stack}  [${r.target ?? "?"}]  ${r.state}`,
      `  expires:        ${r.expiresAt ?? "-"}${r.minutesLeft !== null ? ` (${r.minutesLeft < 0 ? `${-r.minutesLeft} min ago` : `${r.minutesLeft} min left`})` : ""}`,
      `  url:            ${r.url ?? "-"}`,
      `  instance type:  ${r.instanceType ?? "-"}`,
      `  price per hour: ${money(r.pricePerHour)}`,
      `  spend so far:   ${money(r.spendSoFar)}`,
      ...(r.boot ? [`  boot:           ${formatBoot(r.boot)}`] : []),
      ...(r.bootNote ? [`  boot:           ${r.bootNote}`] : []),
      ...(r.outside ? [`  cold start:     ${formatOutside(r.outside)}`] : []),
      "",
    );
  }
  return `${out.join("\n")}\n`;
}
