/**
 * `vace reap`: nothing outlives its TTL.
 *   1. Stacks in the backend whose `expiresAt` output has passed are destroyed through their state
 *      (the same teardown as `vace down`).
 *   2. Cloud resources tagged project=wan-vace whose `expires-at` tag has passed and whose `stack`
 *      tag names no stack in the backend (state lost with a dead runner) are deleted through the
 *      cloud APIs, in dependency order.
 * An untagged resource is never listed; an unexpired one, or one a stack still owns, is kept.
 */
import { PROJECT } from "../infra/config";
import {
  type CloudResource,
  DELETE_ORDER,
  deleteResource,
  describe,
  listTagged,
} from "./cloud/inventory";
import type { RpcClient } from "./cloud/rpc";
import { type Destroyable, firstLine, teardown } from "./teardown";

export interface Decision {
  resource: CloudResource;
  action: "delete" | "keep";
  reason: string;
}

/** When a tagged resource expires, or why that cannot be told. */
function expiry(tags: Record<string, string>): Date | string {
  const raw = tags["expires-at"];
  if (raw === undefined) return "no expires-at tag";
  const t = Date.parse(raw);
  return Number.isNaN(t) ? `unreadable expires-at tag ${JSON.stringify(raw)}` : new Date(t);
}

/** Pure: what to do with each tagged resource, given the stacks the backend still has. */
export function planLost(
  resources: CloudResource[],
  ownedStacks: Set<string>,
  now: Date,
): Decision[] {
  return resources.map((resource) => {
    const keep = (reason: string): Decision => ({ resource, action: "keep", reason });
    if (resource.tags.project !== PROJECT) return keep("not tagged project=wan-vace");
    const stack = resource.tags.stack;
    if (stack === undefined) return keep("no stack tag");
    if (ownedStacks.has(stack)) return keep(`owned by stack ${stack} (reaped through its state)`);
    const at = expiry(resource.tags);
    if (typeof at === "string") return keep(at);
    if (at.getTime() > now.getTime()) return keep(`unexpired (expires ${at.toISOString()})`);
    return { resource, action: "delete", reason: `expired ${at.toISOString()}, no stack owns it` };
  });
}

/** Resources in the order they can be deleted: associations first, the VPC after what is in it. */
export function deletionOrder(resources: CloudResource[]): CloudResource[] {
  return [...resources].sort((a, b) => DELETE_ORDER.indexOf(a.kind) - DELETE_ORDER.indexOf(b.kind));
}

export interface ReapStack extends Destroyable {
  outputs(): Promise<Record<string, unknown>>;
  /** The region its state says it lives in (its resources are checked there after the destroy). */
  region(): Promise<string | undefined>;
}

export interface ReapOptions {
  /** The backend's stacks. */
  stacks: { names(): Promise<string[]>; open(name: string): Promise<ReapStack> };
  /** One client per region to sweep. */
  clients: RpcClient[];
  /** A client for a stack's own region (which may be outside the sweep). */
  clientFor: (region: string) => RpcClient | undefined;
  dryRun: boolean;
  now?: Date;
  log: (line: string) => void;
}

export interface ReapResult {
  destroyedStacks: string[];
  deleted: string[];
  /** What could not be destroyed or deleted, each with its error. */
  failed: string[];
  kept: string[];
}

export async function reap(o: ReapOptions): Promise<ReapResult> {
  const now = o.now ?? new Date();
  const result: ReapResult = { destroyedStacks: [], deleted: [], failed: [], kept: [] };
  const say = (line: string) => o.log(o.dryRun ? `[dry run] ${line}` : line);

  const names = await o.stacks.names();
  for (const name of names) {
    let stack: ReapStack;
    let expiresAt: unknown;
    try {
      stack = await o.stacks.open(name);
      expiresAt = (await stack.outputs()).expiresAt;
    } catch (e) {
      result.failed.push(`stack ${name}: could not read its outputs: ${firstLine(e)}`);
      continue;
    }
    const at = typeof expiresAt === "string" ? Date.parse(expiresAt) : Number.NaN;
    if (Number.isNaN(at)) {
      result.kept.push(`stack ${name}: no expiresAt output (never deployed, or already destroyed)`);
      continue;
    }
    if (at > now.getTime()) {
      result.kept.push(`stack ${name}: unexpired (expires ${expiresAt})`);
      continue;
    }
    say(`stack ${name} expired at ${expiresAt}: destroying`);
    if (o.dryRun) continue;
    // Read before the destroy empties the state.
    const region = await stack.region().catch(() => undefined);
    const client = region ? o.clientFor(region) : undefined;
    const t = await teardown(stack, {
      cloud: client ? () => listTagged(client, { stack: name }) : undefined,
      cloudUnavailable: region
        ? "no cloud credentials"
        : "the state names no region for the stack's provider",
      log: o.log,
    });
    if (t.ok) result.destroyedStacks.push(name);
    else result.failed.push(...t.remaining.map((r) => `stack ${name}: ${r}`));
  }

  const owned = new Set(names);
  for (const client of o.clients) {
    let found: CloudResource[];
    try {
      found = await listTagged(client);
    } catch (e) {
      result.failed.push(`${client.region}: listing tagged resources failed: ${firstLine(e)}`);
      continue;
    }
    const decisions = planLost(found, owned, now);
    for (const d of decisions.filter((x) => x.action === "keep")) {
      result.kept.push(`${client.region} ${describe(d.resource)}: ${d.reason}`);
    }
    const doomed = deletionOrder(
      decisions.filter((d) => d.action === "delete").map((d) => d.resource),
    );
    for (const r of doomed) {
      say(`delete ${client.region} ${describe(r)}`);
      if (o.dryRun) continue;
      try {
        await deleteResource(client, r);
        result.deleted.push(`${client.region} ${describe(r)}`);
      } catch (e) {
        result.failed.push(`${client.region} ${describe(r)}: ${firstLine(e)}`);
      }
    }
  }
  return result;
}
