/**
 * What an ACS render bills, for `vace render`'s summary: derived from the rendered resources and
 * manifests (so it cannot drift from them), in the words docs/acs.md uses.
 */
import { stringify } from "yaml";
import {
  IMAGE_CACHE_KIND,
  IMAGE_CACHE_PRICE,
  IMAGE_UNPACKED_GIB,
  imageCacheCost,
} from "./imagecache";

interface Rendered {
  resources: { type: string; inputs: Record<string, unknown> }[];
  manifests?: unknown[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const at = (v: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((o, k) => (isObj(o) || Array.isArray(o) ? (o as Obj)[k] : undefined), v);

const CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes";
const NAT = "alicloud:vpc/natGateway:NatGateway";
const CLB = "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer";
const ADDON = "alicloud:cs/kubernetesAddon:KubernetesAddon";

/** CNY with the precision the prices have. */
const cny = (x: number) => `${Number(x.toPrecision(3))} CNY`;

/** The image cache's lines (imagecache.ts IMAGE_CACHE_PRICE), when the render has one. */
function imageCacheLines(r: Rendered, replicas: number): string[] {
  const cache = (r.manifests ?? []).find((m) => at(m, "kind") === IMAGE_CACHE_KIND);
  if (!cache) return [];
  const p = IMAGE_CACHE_PRICE;
  const cost = imageCacheCost();
  const image = String(at(cache, "spec", "images", 0) ?? "?");
  const retention = String(at(cache, "spec", "retentionDays") ?? "?");
  const lines = [
    `    image cache ${String(at(cache, "metadata", "name"))} (${image.slice(image.lastIndexOf("@") + 1, image.lastIndexOf("@") + 20)}…, ~${IMAGE_UNPACKED_GIB} GiB unpacked, estimated): storage free for the first ${p.freeCachesPerRegion} caches in the region, then ${p.storageCnyPerGiBMonth} CNY/GiB/month (≈ ${cny(cost.storagePerMonth)}/month) while it exists, also at 0 replicas; expires ${retention} days after creation unless destroyed first`,
    `    image cache acceleration: ${p.accelerationCnyPerGiBHour} CNY/GiB/hour of each pod's runtime (≈ ${cny(cost.accelerationPerPodHour)}/hour per pod${replicas > 1 ? `, × ${replicas} pods` : ""}); nothing at 0 replicas`,
  ];
  if (r.resources.some((x) => x.type === ADDON))
    lines.push(
      "    image-cache-operator add-on: runs while the cluster exists, also at 0 replicas; if its pods run as ACS pods they bill like any pod (their size is the add-on's, not known here)",
    );
  return lines;
}

/** The "bills while it exists" lines and the TTL line of an ACS render. */
export function acsBillingLines(r: Rendered): string[] {
  const deployment = (r.manifests ?? []).find((m) => at(m, "kind") === "Deployment");
  const spec = at(deployment, "spec");
  const labels = at(spec, "template", "metadata", "labels");
  const containers = (at(spec, "template", "spec", "containers") as Obj[] | undefined) ?? [];
  const total = (key: "cpu" | "memory") =>
    containers
      .map((c) => String(at(c, "resources", "requests", key) ?? "0"))
      .reduce(
        (sum, q) =>
          sum +
          (key === "cpu"
            ? Number.parseFloat(q) / (q.endsWith("m") ? 1000 : 1)
            : Number.parseFloat(q) / (q.endsWith("Mi") ? 1024 : 1)),
        0,
      );
  const gpu = containers.find(
    (c) => at(c, "resources", "requests", "nvidia.com/gpu") !== undefined,
  );
  const storage = String(at(gpu, "resources", "requests", "ephemeral-storage") ?? "");
  const series = String(at(labels, "alibabacloud.com/gpu-model-series") ?? "?");
  const replicas = Number(at(spec, "replicas") ?? 0);
  const expires = String(at(deployment, "metadata", "annotations", "wan-vace/expires-at") ?? "?");
  const lines = [
    `    GPU pods: ${replicas} × (${total("cpu")} vCPU, ${total("memory")} GiB, 1 GPU ${series}), per second while running; 0 replicas bill nothing for the pod`,
    `    ephemeral storage ${storage} per pod: the part above 30 GiB at the ESSD PL1 rate`,
  ];
  const cluster = r.resources.find((x) => x.type === CLUSTER)?.inputs;
  if (cluster)
    lines.push(
      `    ACS cluster (${String(cluster.clusterSpec)}): no management fee; its API server's internet SLB bills while the cluster exists, also at 0 replicas`,
    );
  const nat = r.resources.find((x) => x.type === NAT)?.inputs;
  if (nat)
    lines.push(
      `    NAT gateway (${String(nat.natType)}, ${String(nat.internetChargeType)}) and its EIP: hourly plus per GB while they exist, also at 0 replicas`,
    );
  const clb = r.resources.find((x) => x.type === CLB)?.inputs;
  if (clb)
    lines.push(
      `    Service CLB (${String(clb.instanceChargeType)}, ${String(clb.internetChargeType)}): hourly plus per GB while it exists, also at 0 replicas`,
    );
  lines.push(...imageCacheLines(r, replicas));
  lines.push(
    `  TTL: the scaler scales the Deployment to 0 at ${expires} (and after wan-vace:idleStopMinutes idle); the cluster, NAT and load balancers stay until \`pulumi destroy\``,
  );
  return lines;
}

/** Long ConfigMap/Secret values (the scaler's Python files) are named, not printed, in the table. */
const LONG_VALUE = 300;

/** The MANIFESTS section of the table: each object as YAML, long data values elided. */
export function manifestLines(manifests: unknown[], short: boolean): string[] {
  const lines = ["", "MANIFESTS"];
  for (const m of manifests) {
    const name = `${String(at(m, "kind"))} ${String(at(m, "metadata", "namespace") ?? "")}${at(m, "metadata", "namespace") ? "/" : ""}${String(at(m, "metadata", "name"))}`;
    lines.push(`  ${name}`);
    if (short || !isObj(m)) continue;
    const shown = { ...m };
    if (isObj(m.data))
      shown.data = Object.fromEntries(
        Object.entries(m.data).map(([k, v]) => [
          k,
          typeof v === "string" && v.length > LONG_VALUE
            ? `<${v.split("\n").length} lines: see --format json>`
            : v,
        ]),
      );
    lines.push(
      ...stringify(shown, { lineWidth: 0 })
        .trimEnd()
        .split("\n")
        .map((l) => `      ${l}`),
    );
  }
  return lines;
}
