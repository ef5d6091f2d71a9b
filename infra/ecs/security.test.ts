import { describe, expect, it } from "vitest";
import { planIngressRules } from "./security";

describe("planIngressRules", () => {
  it("opens only 443, from each allowed CIDR, by default", () => {
    const rules = planIngressRules({
      allowedCidrs: ["198.51.100.0/24", "203.0.113.0/25"],
      sshCidrs: [],
      tls: { mode: "selfsigned" },
    });
    expect(rules.map((r) => [r.port, r.cidr])).toEqual([
      [443, "198.51.100.0/24"],
      [443, "203.0.113.0/25"],
    ]);
    expect(new Set(rules.map((r) => r.name)).size).toBe(rules.length);
  });

  it("adds 80 only for ACME", () => {
    const ports = (tls: Parameters<typeof planIngressRules>[0]["tls"]) =>
      planIngressRules({ allowedCidrs: ["198.51.100.0/24"], sshCidrs: [], tls }).map((r) => r.port);
    expect(ports({ mode: "acme", domain: "vace.example.com" })).toEqual([443, 80]);
    expect(ports({ mode: "internal" })).toEqual([443]);
  });

  it("opens SSH only to sshCidrs, and never 8188", () => {
    const rules = planIngressRules({
      allowedCidrs: ["0.0.0.0/0"],
      sshCidrs: ["203.0.113.5/32"],
      tls: { mode: "selfsigned" },
    });
    expect(rules.filter((r) => r.port === 22).map((r) => r.cidr)).toEqual(["203.0.113.5/32"]);
    expect(rules.some((r) => r.port === 8188)).toBe(false);
  });
});
