/**
 * What the cloud holds for wan-vace, found by tags (infra/common/naming.ts standardTags: project,
 * stack, owner, expires-at), and how to delete it. Used by `vace e2e`/`down` (nothing may remain
 * tagged with the stack) and by `vace reap` (expired resources no stack owns).
 *
 * RAM roles and policies carry no tags. A stack's are named like its OOS boot parameter
 * (`<prefix>-<uid>-boot` → `<prefix>-<uid>-instance`), so they are found from that tagged
 * parameter and inherit its tags; nothing untagged is ever matched on its own.
 */
import { DELETE_OPTIONS } from "../../infra/acs/cluster";
import { PROJECT } from "../../infra/config";
import type { RpcClient } from "./rpc";

/** Deletion order: each kind may depend on the ones after it, never before. */
export const DELETE_ORDER = [
  // ACS: the cluster first; its deleteOptions take the nodes, pods and the SLBs it made itself.
  "cluster",
  // Then the CLB before its ACL (a listener binds the ACL), both before the network.
  "load-balancer",
  "acl",
  "eip-association",
  "eip",
  "instance",
  "security-group",
  // After its EIP is released; Force deletes the SNAT entries still in it.
  "nat-gateway",
  "vswitch",
  "vpc",
  "ram-policy",
  "ram-role",
  "oos-parameter",
] as const;
export type Kind = (typeof DELETE_ORDER)[number];

export interface CloudResource {
  kind: Kind;
  id: string;
  tags: Record<string, string>;
  /** eip-association: the instance the EIP is bound to; ram-policy: the role it is attached to. */
  attachedTo?: string;
  /** eip-association: what attachedTo is (EcsInstance, Nat, ...), as UnassociateEipAddress wants it. */
  attachedType?: string;
  /** instance: cloud timestamps and state, for spend and status. */
  instance?: {
    status: string;
    stoppedMode?: string;
    creationTime?: string;
    instanceType?: string;
    /** When ECS releases it by itself (its TTL); absent when none is set. */
    autoReleaseTime?: string;
  };
}

export const describe = (r: CloudResource) =>
  `${r.kind} ${r.id}${r.attachedTo ? ` (on ${r.attachedTo})` : ""}${r.tags.stack ? ` [stack ${r.tags.stack}]` : ""}`;

type TagList = {
  Tag?: Array<{ TagKey?: string; TagValue?: string; Key?: string; Value?: string }>;
};

/** ECS lists tags as TagKey/TagValue, VPC as Key/Value. */
function tagMap(tags: TagList | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags?.Tag ?? []) {
    const k = t.TagKey ?? t.Key;
    if (k !== undefined) out[k] = t.TagValue ?? t.Value ?? "";
  }
  return out;
}

function tagParams(filter: Record<string, string>): Record<string, string> {
  const p: Record<string, string> = {};
  Object.entries(filter).forEach(([k, v], i) => {
    p[`Tag.${i + 1}.Key`] = k;
    p[`Tag.${i + 1}.Value`] = v;
  });
  return p;
}

const PAGE = 50;

/** Every page of a PageNumber/PageSize listing. */
async function pages<T>(fetchPage: (page: number) => Promise<{ items: T[]; total: number }>) {
  const all: T[] = [];
  for (let page = 1; ; page++) {
    const { items, total } = await fetchPage(page);
    all.push(...items);
    if (items.length < PAGE || all.length >= total) return all;
  }
}

const matches = (tags: Record<string, string>, filter: Record<string, string>) =>
  Object.entries(filter).every(([k, v]) => tags[k] === v);

/**
 * Every resource in the client's region tagged with all of `filter` (which always includes
 * project=wan-vace). Tags are checked again here, so a server that ignored the filter cannot widen it.
 */
export async function listTagged(
  client: RpcClient,
  extra: Record<string, string> = {},
): Promise<CloudResource[]> {
  const filter = { project: PROJECT, ...extra };
  const region = client.region;
  const base = { RegionId: region, PageSize: PAGE, ...tagParams(filter) };
  const out: CloudResource[] = [];

  type Instance = {
    InstanceId: string;
    Status: string;
    StoppedMode?: string;
    CreationTime?: string;
    InstanceType?: string;
    AutoReleaseTime?: string;
    Tags?: TagList;
  };
  for (const i of await pages(async (PageNumber) => {
    const r = await client.call<{ Instances?: { Instance?: Instance[] }; TotalCount?: number }>(
      "ecs",
      "DescribeInstances",
      { ...base, PageNumber },
    );
    return { items: r.Instances?.Instance ?? [], total: r.TotalCount ?? 0 };
  })) {
    out.push({
      kind: "instance",
      id: i.InstanceId,
      tags: tagMap(i.Tags),
      instance: {
        status: i.Status,
        stoppedMode: i.StoppedMode,
        creationTime: i.CreationTime,
        instanceType: i.InstanceType,
        ...(i.AutoReleaseTime && { autoReleaseTime: i.AutoReleaseTime }),
      },
    });
  }

  type Eip = { AllocationId: string; InstanceId?: string; InstanceType?: string; Tags?: TagList };
  for (const e of await pages(async (PageNumber) => {
    const r = await client.call<{ EipAddresses?: { EipAddress?: Eip[] }; TotalCount?: number }>(
      "vpc",
      "DescribeEipAddresses",
      { ...base, PageNumber },
    );
    return { items: r.EipAddresses?.EipAddress ?? [], total: r.TotalCount ?? 0 };
  })) {
    const tags = tagMap(e.Tags);
    if (e.InstanceId) {
      out.push({
        kind: "eip-association",
        id: e.AllocationId,
        attachedTo: e.InstanceId,
        attachedType: e.InstanceType || undefined,
        tags,
      });
    }
    out.push({ kind: "eip", id: e.AllocationId, tags });
  }

  const simple: Array<[Kind, "ecs" | "vpc" | "slb", string, string, string]> = [
    [
      "security-group",
      "ecs",
      "DescribeSecurityGroups",
      "SecurityGroups.SecurityGroup",
      "SecurityGroupId",
    ],
    ["nat-gateway", "vpc", "DescribeNatGateways", "NatGateways.NatGateway", "NatGatewayId"],
    [
      "load-balancer",
      "slb",
      "DescribeLoadBalancers",
      "LoadBalancers.LoadBalancer",
      "LoadBalancerId",
    ],
    ["acl", "slb", "DescribeAccessControlLists", "Acls.Acl", "AclId"],
    ["vswitch", "vpc", "DescribeVSwitches", "VSwitches.VSwitch", "VSwitchId"],
    ["vpc", "vpc", "DescribeVpcs", "Vpcs.Vpc", "VpcId"],
  ];
  for (const [kind, service, action, path, idKey] of simple) {
    const [outer, inner] = path.split(".") as [string, string];
    for (const item of await pages(async (PageNumber) => {
      const r = await client.call<Record<string, unknown>>(service, action, {
        ...base,
        PageNumber,
      });
      const list = (r[outer] as Record<string, unknown> | undefined)?.[inner];
      return {
        items: (Array.isArray(list) ? list : []) as Array<Record<string, unknown>>,
        total: Number(r.TotalCount ?? 0),
      };
    })) {
      out.push({ kind, id: String(item[idKey]), tags: tagMap(item.Tags as TagList) });
    }
  }

  // Container Service (ROA): DescribeClustersV1 has no tag filter; tags are matched below.
  type Cluster = { cluster_id: string; tags?: Array<{ key?: string; value?: string }> };
  for (const c of await pages(async (page_number) => {
    const r = await client.roa<{ clusters?: Cluster[]; page_info?: { total_count?: number } }>(
      "cs",
      "DescribeClustersV1",
      "GET",
      "/api/v1/clusters",
      { region_id: region, page_size: PAGE, page_number },
    );
    return { items: r.clusters ?? [], total: r.page_info?.total_count ?? 0 };
  })) {
    const tags = Object.fromEntries((c.tags ?? []).map((t) => [t.key ?? "", t.value ?? ""]));
    out.push({ kind: "cluster", id: c.cluster_id, tags });
  }

  // OOS filters by a JSON tag map and pages with NextToken.
  type Parameter = { Name: string; Tags?: Record<string, string> };
  let next: string | undefined;
  do {
    const r = await client.call<{ Parameters?: Parameter[]; NextToken?: string }>(
      "oos",
      "ListSecretParameters",
      { RegionId: region, MaxResults: PAGE, Tags: JSON.stringify(filter), NextToken: next },
    );
    for (const p of r.Parameters ?? []) {
      const tags = p.Tags ?? {};
      out.push({ kind: "oos-parameter", id: p.Name, tags });
      out.push(...(await ramFor(client, p.Name, tags)));
    }
    next = r.NextToken || undefined;
  } while (next);

  return out.filter((r) => matches(r.tags, filter));
}

/** The RAM role and policy named after a boot parameter, when they exist. */
async function ramFor(
  client: RpcClient,
  parameter: string,
  tags: Record<string, string>,
): Promise<CloudResource[]> {
  if (!parameter.endsWith("-boot")) return [];
  const name = `${parameter.slice(0, -"-boot".length)}-instance`;
  const found: CloudResource[] = [];
  if (
    await exists(() => client.call("ram", "GetPolicy", { PolicyName: name, PolicyType: "Custom" }))
  ) {
    found.push({ kind: "ram-policy", id: name, attachedTo: name, tags });
  }
  if (await exists(() => client.call("ram", "GetRole", { RoleName: name }))) {
    found.push({ kind: "ram-role", id: name, tags });
  }
  return found;
}

async function exists(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return true;
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith("EntityNotExist")) return false;
    throw e;
  }
}

/** Ignores "already gone": a resource deleted by someone else meanwhile is what we wanted. */
const gone = (e: unknown) =>
  /NotFound|NotExist|InvalidAllocationId\.NotFound/.test(String((e as { code?: string }).code));

/** Deletes one resource with the call its kind needs. */
export async function deleteResource(client: RpcClient, r: CloudResource): Promise<void> {
  const region = client.region;
  const run = async (
    service: "ecs" | "vpc" | "ram" | "oos" | "slb",
    action: string,
    params: Record<string, string>,
  ) => {
    try {
      await client.call(service, action, params);
    } catch (e) {
      if (!gone(e)) throw e;
    }
  };
  switch (r.kind) {
    case "cluster":
      try {
        await client.roa("cs", "DeleteCluster", "DELETE", `/clusters/${encodeURIComponent(r.id)}`, {
          retain_all_resources: false,
          // As infra/acs DELETE_OPTIONS: what the cluster made (SLBs, logs, DNS zone) goes with it.
          delete_options: JSON.stringify(
            DELETE_OPTIONS.map((o) => ({
              resource_type: o.resourceType,
              delete_mode: o.deleteMode,
            })),
          ),
        });
      } catch (e) {
        if (!gone(e)) throw e;
      }
      return;
    case "eip-association":
      return run("vpc", "UnassociateEipAddress", {
        RegionId: region,
        AllocationId: r.id,
        InstanceId: r.attachedTo ?? "",
        // Without it the API assumes EcsInstance and refuses a NAT gateway's EIP.
        ...(r.attachedType && { InstanceType: r.attachedType }),
      });
    case "eip":
      return run("vpc", "ReleaseEipAddress", { RegionId: region, AllocationId: r.id });
    case "instance":
      return run("ecs", "DeleteInstance", { RegionId: region, InstanceId: r.id, Force: "true" });
    case "security-group":
      return run("ecs", "DeleteSecurityGroup", { RegionId: region, SecurityGroupId: r.id });
    case "load-balancer":
      return run("slb", "DeleteLoadBalancer", { RegionId: region, LoadBalancerId: r.id });
    case "acl":
      return run("slb", "DeleteAccessControlList", { RegionId: region, AclId: r.id });
    case "nat-gateway":
      return run("vpc", "DeleteNatGateway", {
        RegionId: region,
        NatGatewayId: r.id,
        Force: "true",
      });
    case "vswitch":
      return run("vpc", "DeleteVSwitch", { RegionId: region, VSwitchId: r.id });
    case "vpc":
      return run("vpc", "DeleteVpc", { RegionId: region, VpcId: r.id });
    case "ram-policy":
      await run("ram", "DetachPolicyFromRole", {
        PolicyType: "Custom",
        PolicyName: r.id,
        RoleName: r.attachedTo ?? r.id,
      });
      return run("ram", "DeletePolicy", { PolicyName: r.id });
    case "ram-role":
      return run("ram", "DeleteRole", { RoleName: r.id });
    case "oos-parameter":
      return run("oos", "DeleteSecretParameter", { RegionId: region, Name: r.id });
  }
}

/** The cloud query teardown runs: everything still tagged with this project and stack. */
export const taggedWithStack = (client: RpcClient, stack: string) => () =>
  listTagged(client, { stack });

/** The stack's GPU instance's CreationTime (a cloud timestamp, for spend), if it still exists. */
export async function instanceCreatedAt(
  client: RpcClient,
  stack: string,
): Promise<Date | undefined> {
  const found = (await listTagged(client, { stack })).find((r) => r.kind === "instance");
  const t = found?.instance?.creationTime;
  return t ? ecsTime(t) : undefined;
}

/** ECS timestamps have minutes but no seconds (2026-12-01T10:00Z); Date.parse wants them. */
export function ecsTime(t: string): Date {
  return new Date(t.replace(/T(\d\d:\d\d)Z$/, "T$1:00Z"));
}
