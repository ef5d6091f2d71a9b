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
