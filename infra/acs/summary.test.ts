import { describe, expect, it } from "vitest";
import { loadConfig } from "../config";
import { buildManifests } from "./manifests";
import { scalerFiles } from "./scaler";
import { acsBillingLines, manifestLines } from "./summary";

const c = loadConfig({
  image: "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0",
  target: "acs",
  zones: ["ap-southeast-1a"],
  replicas: 2,
  podCpu: 12,
  podMemory: 48,
  gpuModelSeries: "A10",
}).config;
const manifests = Object.values(
  JSON.parse(
    JSON.stringify(
      buildManifests({
        stack: "dev",
        config: c,
        acs: c.acs as NonNullable<typeof c.acs>,
        expiresAt: "2026-12-02T08:00:00Z",
        loadBalancerId: "lb-1",
        token: "[secret]",
        scalerFiles: scalerFiles(),
      }),
    ),
  ),
);
const resources = [
  {
    type: "alicloud:cs/managedKubernetes:ManagedKubernetes",
    inputs: { clusterSpec: "ack.pro.small" },
  },
  {
    type: "alicloud:vpc/natGateway:NatGateway",
    inputs: { natType: "Enhanced", internetChargeType: "PayByLcu" },
  },
  {
    type: "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
    inputs: { instanceChargeType: "PayByCLCU", internetChargeType: "PayByTraffic" },
  },
];

describe("ACS render summary", () => {
  it("says what bills, from the rendered pod sizes and resources, and what the ttl does", () => {
    const lines = acsBillingLines({ resources, manifests });
    expect(lines[0]).toBe(
      "    GPU pods: 2 × (12 vCPU, 48 GiB, 1 GPU A10), per second while running; 0 replicas bill nothing for the pod",
    );
    expect(lines.join("\n")).toMatch(/ephemeral storage 60Gi per pod/);
    expect(lines.join("\n")).toMatch(/ACS cluster \(ack\.pro\.small\).*also at 0 replicas/);
    expect(lines.join("\n")).toMatch(/NAT gateway \(Enhanced, PayByLcu\)/);
    expect(lines.join("\n")).toMatch(/Service CLB \(PayByCLCU, PayByTraffic\)/);
    expect(lines.at(-1)).toMatch(/scales the Deployment to 0 at 2026-12-02T08:00:00Z/);
    // An existing cluster: no cluster or NAT lines.
    const existing = acsBillingLines({ resources: resources.slice(2), manifests });
    expect(existing.join("\n")).not.toMatch(/NAT gateway|ACS cluster/);
  });

  it("prints each manifest as YAML, naming long files instead of printing them; --short keeps headers", () => {
    const full = manifestLines(manifests, false).join("\n");
    expect(full).toContain("  Deployment vace-dev/vace");
    expect(full).toMatch(/acs_scaler\.py: "<\d+ lines: see --format json>"/);
    expect(full).toContain('"idleStopMinutes": 0');
    const short = manifestLines(manifests, true);
    expect(short).toContain("  Role vace-dev/vace-scaler");
    expect(short).not.toContain("      kind: Role");
  });
});

describe("ACS render summary with wan-vace:imageCache", () => {
  const cached = loadConfig({
    image: `registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0@sha256:${"9e".repeat(32)}`,
    target: "acs",
    zones: ["ap-southeast-1a"],
    imageCache: true,
  }).config;
  const withCache = Object.values(
    JSON.parse(
      JSON.stringify(
        buildManifests({
          stack: "dev",
          config: cached,
          acs: cached.acs as NonNullable<typeof cached.acs>,
          expiresAt: "2026-12-02T08:00:00Z",
          loadBalancerId: "lb-1",
          token: "[secret]",
          scalerFiles: scalerFiles(),
        }),
      ),
    ),
  );

  it("prices the cache: storage beyond the free 20, acceleration per pod-hour, the add-on", () => {
    const addon = { type: "alicloud:cs/kubernetesAddon:KubernetesAddon", inputs: {} };
    const text = acsBillingLines({ resources: [...resources, addon], manifests: withCache }).join(
      "\n",
    );
    expect(text).toContain(
      "image cache vace-dev-comfyui-9e9e9e9e9e9e (sha256:9e9e9e9e9e9e…, ~20 GiB unpacked, estimated): storage free for the first 20 caches in the region, then 0.18 CNY/GiB/month (≈ 3.6 CNY/month) while it exists, also at 0 replicas; expires 8 days after creation",
    );
    expect(text).toContain(
      "image cache acceleration: 0.00231 CNY/GiB/hour of each pod's runtime (≈ 0.0462 CNY/hour per pod); nothing at 0 replicas",
    );
    expect(text).toMatch(/image-cache-operator add-on: runs while the cluster exists/);
    // The TTL line stays last.
    expect(text.split("\n").at(-1)).toMatch(/^ {2}TTL:/);
  });

  it("without the key, says nothing about a cache", () => {
    expect(acsBillingLines({ resources, manifests }).join("\n")).not.toMatch(/image cache/);
  });
});
