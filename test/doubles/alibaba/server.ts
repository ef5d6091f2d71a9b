/**
 * A loopback fake of the Alibaba Cloud RPC APIs the reaper and teardown checks call (ECS, VPC, RAM,
 * OOS). Test-only. It checks each request's signature V1 like the real gateway, filters by tags the
 * way the Describe* calls do (Tag.N.Key/Value; OOS: a JSON Tags map), and refuses deletes whose
 * dependants still exist, with the error codes Alibaba documents (DependencyViolation,
 * IncorrectEipStatus, DeleteConflict.Role.Policy), so a wrong order fails as it would for real.
 * Response shapes follow the API references of DescribeInstances, DescribeEipAddresses,
 * DescribeSecurityGroups, DescribeVSwitches, DescribeVpcs and ListSecretParameters; for the ACS
 * stack's network and ingress, DescribeNatGateways (VPC), DescribeLoadBalancers and
 * DescribeAccessControlLists (SLB). The refusals for a NAT gateway still holding an EIP, a vSwitch
 * still holding a NAT gateway and an ACL still bound to a CLB use the DependencyViolation family;
 * their exact codes were not checked against the live APIs. Container Service is ROA
 * (`GET /api/v1/clusters`, `DELETE /clusters/{id}`, under `/cs`), signed with V3 (ACS3-HMAC-SHA256),
 * which is checked too; DescribeClustersV1 has no tag filter, so every cluster is returned.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sign, signV3 } from "../../../ops/cloud/rpc";

export const FAKE_KEY = { accessKeyId: "LTAI-fake-id", accessKeySecret: "fake-secret-for-tests" };

export type FakeKind =
  | "instance"
  | "eip"
  | "security-group"
  | "vswitch"
  | "vpc"
  | "oos-parameter"
  | "ram-role"
  | "ram-policy"
  | "nat-gateway"
  | "load-balancer"
  | "acl"
  | "cluster";

export interface FakeResource {
  kind: FakeKind;
  id: string;
  tags?: Record<string, string>;
  /** eip: the instance it is associated with; ram-policy: the role it is attached to. */
  attachedTo?: string;
  /** eip: what attachedTo is (DescribeEipAddresses' InstanceType; default EcsInstance). */
  attachedType?: string;
  creationTime?: string;
  status?: string;
  /** instance: the next statuses DescribeInstances reports, one per call that returns it; then `status`. */
  statuses?: string[];
  /** instance: the text GetInstanceConsoleOutput returns (base64-encoded, as the API does). */
  consoleOutput?: string;
  /** instance: AutoReleaseTime as DescribeInstances reports it (UTC, yyyy-MM-ddTHH:mmZ). */
  autoReleaseTime?: string;
}

export interface FakeFault {
  action: string;
  code: string;
  status?: number;
  /** How many calls fail (default 1); "always" never runs out. */
  times?: number | "always";
}

export interface FakeCloud {
  /** Endpoint per service: `${url}/${service}`. */
  endpoint: (service: string) => string;
  resources: FakeResource[];
  faults: FakeFault[];
  /** Every call: `Action id` for mutations, `Action` for reads. */
  calls: string[];
  close(): Promise<void>;
}

const SERVICE_OF: Record<string, string> = {
  DescribeInstances: "ecs",
  GetInstanceConsoleOutput: "ecs",
  DeleteInstance: "ecs",
  DescribeSecurityGroups: "ecs",
  DeleteSecurityGroup: "ecs",
  DescribeEipAddresses: "vpc",
  UnassociateEipAddress: "vpc",
  ReleaseEipAddress: "vpc",
  DescribeVSwitches: "vpc",
  DeleteVSwitch: "vpc",
  DescribeVpcs: "vpc",
  DeleteVpc: "vpc",
  GetRole: "ram",
  GetPolicy: "ram",
  DetachPolicyFromRole: "ram",
  DeletePolicy: "ram",
  DeleteRole: "ram",
  ListSecretParameters: "oos",
  DeleteSecretParameter: "oos",
  DescribeNatGateways: "vpc",
  DeleteNatGateway: "vpc",
  DescribeLoadBalancers: "slb",
  DeleteLoadBalancer: "slb",
  DescribeAccessControlLists: "slb",
  DeleteAccessControlList: "slb",
};

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export async function startFakeCloud(resources: FakeResource[] = []): Promise<FakeCloud> {
  const cloud = { resources: [...resources], faults: [] as FakeFault[], calls: [] as string[] };

  const tagFilter = (q: URLSearchParams): Record<string, string> => {
    const f: Record<string, string> = {};
    for (let i = 1; q.has(`Tag.${i}.Key`); i++)
      f[q.get(`Tag.${i}.Key`) ?? ""] = q.get(`Tag.${i}.Value`) ?? "";
    return f;
  };
  const tagged = (kind: FakeKind, filter: Record<string, string>) =>
    cloud.resources.filter(
      (r) => r.kind === kind && Object.entries(filter).every(([k, v]) => r.tags?.[k] === v),
    );
  const page = <T>(items: T[], q: URLSearchParams) => {
    const size = Number(q.get("PageSize") ?? 10);
    const n = Number(q.get("PageNumber") ?? 1);
    return items.slice((n - 1) * size, n * size);
  };
  const ecsTags = (r: FakeResource) => ({
    Tag: Object.entries(r.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
  });
  const vpcTags = (r: FakeResource) => ({
    Tag: Object.entries(r.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
  });
  const find = (kind: FakeKind, id: string | null) => {
    const r = cloud.resources.find((x) => x.kind === kind && x.id === id);
    if (!r) throw new ApiError(`InvalidId.NotFound`, `${kind} ${id} does not exist`, 404);
    return r;
  };
  const remove = (r: FakeResource) => {
    cloud.resources = cloud.resources.filter((x) => x !== r);
  };
  /** Whether r's stack still has a resource of these kinds (the fake's stand-in for "in its VPC"). */
  const inStackOf = (r: FakeResource, ...kinds: FakeKind[]) =>
    cloud.resources.some((x) => kinds.includes(x.kind) && x.tags?.stack === r.tags?.stack);
  const blocked = (when: boolean, code: string, message: string) => {
    if (when) throw new ApiError(code, message);
  };

  function handle(action: string, q: URLSearchParams): Record<string, unknown> {
    const filter = tagFilter(q);
    switch (action) {
      case "DescribeInstances": {
        // InstanceIds: a JSON array of ids, ANDed with the other filters (the API reference).
        const ids = q.has("InstanceIds")
          ? (JSON.parse(q.get("InstanceIds") ?? "[]") as string[])
          : undefined;
        const all = tagged("instance", filter).filter((r) => !ids || ids.includes(r.id));
        const now = new Map(all.map((r) => [r, r.statuses?.shift() ?? r.status ?? "Running"]));
        return {
          TotalCount: all.length,
          Instances: {
            Instance: page(all, q).map((r) => ({
              InstanceId: r.id,
              Status: now.get(r),
              StoppedMode: now.get(r) === "Stopped" ? "StopCharging" : "Not-applicable",
              CreationTime: r.creationTime ?? "2026-12-01T10:00Z",
              AutoReleaseTime: r.autoReleaseTime ?? "",
              InstanceType: "ecs.gn7i-c8g1.2xlarge",
              Tags: ecsTags(r),
            })),
          },
        };
      }
      case "DescribeEipAddresses": {
        const all = tagged("eip", filter);
        return {
          TotalCount: all.length,
          EipAddresses: {
            EipAddress: page(all, q).map((r) => ({
              AllocationId: r.id,
              InstanceId: r.attachedTo ?? "",
              InstanceType: r.attachedTo ? (r.attachedType ?? "EcsInstance") : "",
              Status: r.attachedTo ? "InUse" : "Available",
              Tags: vpcTags(r),
            })),
          },
        };
      }
      case "DescribeSecurityGroups": {
        const all = tagged("security-group", filter);
        return {
          TotalCount: all.length,
          SecurityGroups: {
            SecurityGroup: page(all, q).map((r) => ({ SecurityGroupId: r.id, Tags: ecsTags(r) })),
          },
        };
      }
      case "DescribeVSwitches": {
        const all = tagged("vswitch", filter);
        return {
          TotalCount: all.length,
          VSwitches: { VSwitch: page(all, q).map((r) => ({ VSwitchId: r.id, Tags: vpcTags(r) })) },
        };
      }
      case "DescribeNatGateways": {
        const all = tagged("nat-gateway", filter);
        return {
          TotalCount: all.length,
          NatGateways: {
            NatGateway: page(all, q).map((r) => ({ NatGatewayId: r.id, Tags: vpcTags(r) })),
          },
        };
      }
      case "DescribeLoadBalancers": {
        const all = tagged("load-balancer", filter);
        return {
          TotalCount: all.length,
          LoadBalancers: {
            LoadBalancer: page(all, q).map((r) => ({ LoadBalancerId: r.id, Tags: ecsTags(r) })),
          },
        };
      }
      case "DescribeAccessControlLists": {
        const all = tagged("acl", filter);
        return {
          TotalCount: all.length,
          Acls: { Acl: page(all, q).map((r) => ({ AclId: r.id, Tags: ecsTags(r) })) },
        };
      }
      case "DescribeVpcs": {
        const all = tagged("vpc", filter);
        return {
          TotalCount: all.length,
          Vpcs: { Vpc: page(all, q).map((r) => ({ VpcId: r.id, Tags: vpcTags(r) })) },
        };
      }
      case "ListSecretParameters": {
        const f = JSON.parse(q.get("Tags") ?? "{}") as Record<string, string>;
        return {
          Parameters: tagged("oos-parameter", f).map((r) => ({ Name: r.id, Tags: r.tags ?? {} })),
          NextToken: "",
        };
      }
      case "GetInstanceConsoleOutput": {
        // The cached output of the last start, restart or shutdown, base64-encoded (API reference).
        const r = find("instance", q.get("InstanceId"));
        return {
          InstanceId: r.id,
          ConsoleOutput: Buffer.from(r.consoleOutput ?? "").toString("base64"),
          LastUpdateTime: "2026-12-01 18:04:57",
        };
      }
      case "GetRole":
        if (!cloud.resources.some((r) => r.kind === "ram-role" && r.id === q.get("RoleName")))
          throw new ApiError("EntityNotExist.Role", "The role does not exist", 404);
        return { Role: { RoleName: q.get("RoleName") } };
      case "GetPolicy":
        if (!cloud.resources.some((r) => r.kind === "ram-policy" && r.id === q.get("PolicyName")))
          throw new ApiError("EntityNotExist.Policy", "The policy does not exist", 404);
        return { Policy: { PolicyName: q.get("PolicyName") } };
      case "UnassociateEipAddress": {
        const r = find("eip", q.get("AllocationId"));
        if (r.attachedTo !== q.get("InstanceId"))
          throw new ApiError("IncorrectInstanceStatus", "not associated");
        if ((r.attachedType ?? "EcsInstance") !== (q.get("InstanceType") ?? "EcsInstance"))
          throw new ApiError("InvalidInstanceType.NotMatch", "InstanceType does not match");
        r.attachedTo = undefined;
        return {};
      }
      case "ReleaseEipAddress": {
        const r = find("eip", q.get("AllocationId"));
        blocked(r.attachedTo !== undefined, "IncorrectEipStatus", "The EIP is still associated");
        remove(r);
        return {};
      }
      case "DeleteInstance": {
        const r = find("instance", q.get("InstanceId"));
        remove(r);
        return {};
      }
      case "DeleteSecurityGroup":
        blocked(
          cloud.resources.some((x) => x.kind === "instance"),
          "DependencyViolation",
          "instances still use it",
        );
        remove(find("security-group", q.get("SecurityGroupId")));
        return {};
      case "DeleteLoadBalancer":
        remove(find("load-balancer", q.get("LoadBalancerId")));
        return {};
      case "DeleteAccessControlList": {
        const r = find("acl", q.get("AclId"));
        blocked(
          inStackOf(r, "load-balancer"),
          "DependencyViolation.Acl",
          "a listener still uses the ACL",
        );
        remove(r);
        return {};
      }
      case "DeleteNatGateway": {
        const r = find("nat-gateway", q.get("NatGatewayId"));
        blocked(
          cloud.resources.some((x) => x.kind === "eip" && x.attachedTo === r.id),
          "DependencyViolation.EIPS",
          "an EIP is still associated with the NAT gateway",
        );
        remove(r);
        return {};
      }
      case "DeleteVSwitch": {
        const r = find("vswitch", q.get("VSwitchId"));
        blocked(
          inStackOf(r, "instance", "nat-gateway", "cluster"),
          "DependencyViolation",
          "instances, a NAT gateway or a cluster still in it",
        );
        remove(r);
        return {};
      }
      case "DeleteVpc": {
        const r = find("vpc", q.get("VpcId"));
        blocked(
          inStackOf(r, "vswitch", "security-group"),
          "DependencyViolation.VSwitch",
          "the VPC still holds vSwitches or security groups",
        );
        remove(r);
        return {};
      }
      case "DetachPolicyFromRole": {
        const r = find("ram-policy", q.get("PolicyName"));
        r.attachedTo = undefined;
        return {};
      }
      case "DeletePolicy": {
        const r = find("ram-policy", q.get("PolicyName"));
        blocked(
          r.attachedTo !== undefined,
          "DeleteConflict.Policy.Role",
          "the policy is attached to a role",
        );
        remove(r);
        return {};
      }
      case "DeleteRole":
        blocked(
          cloud.resources.some(
            (x) => x.kind === "ram-policy" && x.attachedTo === q.get("RoleName"),
          ),
          "DeleteConflict.Role.Policy",
          "the role still has policies attached",
        );
        remove(find("ram-role", q.get("RoleName")));
        return {};
      case "DeleteSecretParameter":
        remove(find("oos-parameter", q.get("Name")));
        return {};
      default:
        throw new ApiError("InvalidAction.NotFound", `unknown action ${action}`, 404);
    }
  }

  /** Container Service's ROA API, under /cs. */
  function handleRoa(method: string, path: string, q: URLSearchParams): Record<string, unknown> {
    if (method === "GET" && path === "/api/v1/clusters") {
      const all = cloud.resources.filter((r) => r.kind === "cluster");
      const size = Number(q.get("page_size") ?? 10);
      const n = Number(q.get("page_number") ?? 1);
      return {
        clusters: all.slice((n - 1) * size, n * size).map((r) => ({
          cluster_id: r.id,
          tags: Object.entries(r.tags ?? {}).map(([key, value]) => ({ key, value })),
        })),
        page_info: { page_number: n, page_size: size, total_count: all.length },
      };
    }
    const del = /^\/clusters\/([^/]+)$/.exec(path);
    if (method === "DELETE" && del) {
      const r = cloud.resources.find((x) => x.kind === "cluster" && x.id === del[1]);
      if (!r) throw new ApiError("ErrorClusterNotFound", `cluster ${del[1]} not found`, 404);
      if (q.get("retain_all_resources") !== "false" || !q.get("delete_options"))
        throw new ApiError(
          "InvalidParameter",
          "expected retain_all_resources=false and delete_options",
        );
      remove(r);
      return { cluster_id: r.id, task_id: `T-${r.id}` };
    }
    throw new ApiError("InvalidAction.NotFound", `no route ${method} ${path}`, 404);
  }

  function roa(req: IncomingMessage, url: URL): Record<string, unknown> {
    const method = req.method ?? "GET";
    const path = url.pathname.slice("/cs".length);
    const auth = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=(\w+)$/.exec(
      req.headers.authorization ?? "",
    );
    if (!auth || auth[1] !== FAKE_KEY.accessKeyId)
      throw new ApiError("InvalidAccessKeyId.NotFound", "unknown key", 404);
    const headers: Record<string, string> = {};
    for (const h of (auth[2] ?? "").split(";")) headers[h] = String(req.headers[h] ?? "");
    if (headers["x-acs-version"] !== "2015-12-15")
      throw new ApiError("InvalidVersion", "Container Service is version 2015-12-15");
    const query = Object.fromEntries(url.searchParams);
    const expected = signV3(method, path, query, headers, FAKE_KEY.accessKeySecret);
    if (auth[3] !== expected.signature || auth[2] !== expected.signedHeaders)
      throw new ApiError("SignatureDoesNotMatch", "signature mismatch", 400);
    const action = headers["x-acs-action"] ?? "";
    const id = /^\/clusters\/([^/]+)$/.exec(path)?.[1];
    cloud.calls.push(method === "GET" ? action : `${action} ${id}`);
    return handleRoa(method, path, url.searchParams);
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const q = url.searchParams;
    const action = q.get("Action") ?? "";
    const send = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ RequestId: `req-${cloud.calls.length}`, ...body }));
    };
    try {
      if (url.pathname.startsWith("/cs/")) {
        send(200, roa(req, url));
        return;
      }
      const service = url.pathname.replace(/^\/|\/$/g, "");
      if (SERVICE_OF[action] !== service)
        throw new ApiError("InvalidAction.NotFound", `${action} is not a ${service} action`, 404);
      const params: Record<string, string> = {};
      for (const [k, v] of q) if (k !== "Signature") params[k] = v;
      if (params.AccessKeyId !== FAKE_KEY.accessKeyId)
        throw new ApiError("InvalidAccessKeyId.NotFound", "unknown key", 404);
      if (q.get("Signature") !== sign("GET", params, FAKE_KEY.accessKeySecret))
        throw new ApiError("SignatureDoesNotMatch", "signature mismatch", 400);
      const id =
        q.get("AllocationId") ??
        q.get("InstanceId") ??
        q.get("SecurityGroupId") ??
        q.get("VSwitchId") ??
        q.get("VpcId") ??
        q.get("NatGatewayId") ??
        q.get("LoadBalancerId") ??
        q.get("AclId") ??
        q.get("PolicyName") ??
        q.get("RoleName") ??
        q.get("Name");
      cloud.calls.push(/^(Describe|List|Get)/.test(action) ? action : `${action} ${id}`);
      const fault = cloud.faults.find((f) => f.action === action && f.times !== 0);
      if (fault) {
        if (typeof fault.times === "number") fault.times--;
        else if (fault.times === undefined) fault.times = 0;
        throw new ApiError(fault.code, "injected fault", fault.status ?? 503);
      }
      send(200, handle(action, q));
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError("InternalError", String(e), 500);
      send(err.status, { Code: err.code, Message: err.message });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: (service) => `http://127.0.0.1:${port}/${service}`,
    get resources() {
      return cloud.resources;
    },
    set resources(v) {
      cloud.resources = v;
    },
    faults: cloud.faults,
    calls: cloud.calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
