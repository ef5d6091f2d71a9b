/**
 * `vace status`: per stack, what it is and what it costs, from its outputs, its state, and (with
 * credentials) the cloud's view of its instance.
 */
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
}

export interface StatusSources {
  open(
    name: string,
  ): Promise<{ outputs(): Promise<Record<string, unknown>>; resources(): Promise<string[]> }>;
  region(name: string): string | undefined;
  cloud(region: string): { client?: RpcClient; why?: string };
  now?: Date;
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
  return row;
}

export async function statusRows(names: string[], src: StatusSources): Promise<StatusRow[]> {
  const rows: StatusRow[] = [];
  for (const n of names) rows.push(await statusRow(n, src));
  return rows;
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
      "",
    );
  }
  return `${out.join("\n")}\n`;
}
