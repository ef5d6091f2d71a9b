/**
 * The ACS Kubernetes objects, built by the pure builders and validated offline against the
 * Kubernetes OpenAPI schema (kubernetes-models' validators), plus what a schema cannot see:
 * selectors that match, ports that line up, the only exposed port, secrets only in Secrets.
 */
import type * as k8s from "@pulumi/kubernetes";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ACCESS_LOG, TLS_DIR } from "../common/gateway";
import { loadConfig, type WanVaceConfig } from "../config";
import {
  AFFINITY_SECONDS,
  buildManifests,
  GATEWAY_PORT,
  LABELS,
  type ManifestInputs,
  NAMES,
  namespaceName,
  PUBLIC_PORT,
  RUN_AS,
  selectorLabels,
  wakeCommand,
} from "./manifests";
import { scalerFiles } from "./scaler";

const IMAGE = "registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0";
const TOKEN = "Tok3nValueThatIsLongEnoughForTheGateway0123";
const KEY = "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nPUBLIC\n-----END CERTIFICATE-----\n";
const DOCKER = '{"auths":{"registry-vpc.example.com":{"password":"RegPass-5c3b"}}}';
const EXPIRES = "2026-12-02T08:00:00Z";

function acsConfig(raw: Record<string, unknown> = {}): WanVaceConfig {
  return loadConfig({
    image: IMAGE,
    target: "acs",
    zones: ["ap-southeast-1a"],
    allowedCidrs: ["198.51.100.0/24"],
    ...raw,
  }).config;
}

function inputs(c: WanVaceConfig, extra: Partial<ManifestInputs> = {}): ManifestInputs {
  if (!c.acs) throw new Error("not an ACS config");
  return {
    stack: "dev",
    config: c,
    acs: c.acs,
    expiresAt: EXPIRES,
    loadBalancerId: "lb-t4nexample",
    aclId: "acl-t4nexample",
    token: TOKEN,
    ...(c.tls.mode === "selfsigned" && { tls: { certPem: CERT, keyPem: KEY } }),
    scalerFiles: scalerFiles(),
    ...extra,
  };
}

/** The objects as the API server receives them (no Outputs here: every input is a plain value). */
interface Plain {
  namespace: k8s.types.output.core.v1.Namespace;
  gatewaySecret: k8s.types.output.core.v1.Secret;
  registrySecret?: k8s.types.output.core.v1.Secret;
  scalerConfig: k8s.types.output.core.v1.ConfigMap;
  serviceAccount: k8s.types.output.core.v1.ServiceAccount;
  role: k8s.types.output.rbac.v1.Role;
  roleBinding: k8s.types.output.rbac.v1.RoleBinding;
  deployment: k8s.types.output.apps.v1.Deployment;
  service: k8s.types.output.core.v1.Service;
  imageCache?: Record<string, unknown>;
}
const build = (i: ManifestInputs): Plain => JSON.parse(JSON.stringify(buildManifests(i))) as Plain;

const all = (m: Plain) => Object.values(m).filter((x) => x !== undefined) as object[];
/** The validator class for each kind (kubernetes-models, ESM-only, hence the dynamic imports). */
async function validators(): Promise<Record<string, new (o: never) => { validate(): void }>> {
  const [core, apps, rbac] = await Promise.all([
    import("kubernetes-models/v1"),
    import("kubernetes-models/apps/v1"),
    import("kubernetes-models/rbac.authorization.k8s.io/v1"),
  ]);
  return {
    Namespace: core.Namespace,
    Secret: core.Secret,
    ConfigMap: core.ConfigMap,
    ServiceAccount: core.ServiceAccount,
    Service: core.Service,
    Deployment: apps.Deployment,
    Role: rbac.Role,
    RoleBinding: rbac.RoleBinding,
  } as never;
}

type Obj = Record<string, unknown>;
const podSpec = (m: Plain) => {
  const t = m.deployment.spec?.template;
  if (!t?.spec || !t.metadata) throw new Error("no pod template");
  return { spec: t.spec, metadata: t.metadata };
};
const containers = (m: Plain) => podSpec(m).spec.containers;
const container = (m: Plain, name: string) => {
  const c = containers(m).find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};

describe("ACS manifests", () => {
  const variants: [string, WanVaceConfig, Partial<ManifestInputs>][] = [
    ["selfsigned, ACL, one replica", acsConfig(), {}],
    [
      "acme, open to all, private registry, three replicas",
      acsConfig({
        tls: "acme",
        domain: "vace.example.com",
        acmeEmail: "ops@example.com",
        allowedCidrs: ["0.0.0.0/0"],
        replicas: 3,
        registryUsername: "u",
        registryPassword: "RegPass-5c3b",
      }),
      { aclId: undefined, dockerConfigJson: DOCKER },
    ],
    [
      "parked (replicas 0), existing cluster",
      acsConfig({ replicas: 0, clusterId: `c${"a".repeat(32)}`, zones: [] }),
      {},
    ],
  ];

  it.each(variants)(
    "validate against the Kubernetes OpenAPI schema: %s",
    async (_what, c, extra) => {
      const byKind = await validators();
      const m = build(inputs(c, extra));
      for (const o of all(m) as Obj[]) {
        const Model = byKind[String(o.kind)];
        expect(Model, String(o.kind)).toBeDefined();
        if (!Model) continue;
        expect(() => new Model(o as never).validate(), `${o.kind}`).not.toThrow();
      }
    },
  );

  it("the schema check is real: a wrong type fails it", async () => {
    const byKind = await validators();
    const m = build(inputs(acsConfig()));
    const broken = JSON.parse(JSON.stringify(m.service));
    broken.spec.ports[0].port = "four-four-three";
    const Service = byKind.Service as new (o: never) => { validate(): void };
    expect(() => new Service(broken as never).validate()).toThrow(/port/);
  });

  it.each(variants)(
    "selectors match the pod's labels and the Service reaches the gateway only: %s",
    (_w, c, extra) => {
      const m = build(inputs(c, extra));
      const template = podSpec(m);
      const podLabels = template.metadata.labels as Record<string, string>;
      const matchLabels = m.deployment.spec?.selector.matchLabels ?? {};
      expect(podLabels).toMatchObject(matchLabels);
      const svc = m.service.spec;
      expect(podLabels).toMatchObject(svc.selector);
      // One port: the load balancer's 443 to the gateway's named port, and nothing else.
      expect(svc.type).toBe("LoadBalancer");
      expect(svc.ports).toEqual([
        { name: "https", port: PUBLIC_PORT, targetPort: "https", protocol: "TCP" },
      ]);
      const exposed = containers(m).flatMap((x) =>
        ((x.ports as { name: string; containerPort: number }[] | undefined) ?? []).map((p) => ({
          container: x.name,
          ...p,
        })),
      );
      expect(exposed).toEqual([
        { container: "gateway", name: "https", containerPort: GATEWAY_PORT, protocol: "TCP" },
      ]);
      // Everything in the stack's namespace, labelled for the stack.
      const ns = namespaceName("dev");
      for (const o of all(m) as {
        kind: string;
        metadata: { namespace?: string; labels?: Obj };
      }[]) {
        if (o.kind !== "Namespace") expect(o.metadata.namespace, o.kind).toBe(ns);
        expect(o.metadata.labels).toMatchObject(selectorLabels("dev"));
      }
    },
  );

  it("asks for a GPU pod: compute class, series, driver, one GPU, CPU and memory in range", () => {
    const c = acsConfig({ gpuModelSeries: "A10", podCpu: 12, podMemory: 48, ephemeralStorage: 80 });
    const m = build(inputs(c));
    expect(podSpec(m).metadata.labels).toMatchObject({
      [LABELS.computeClass]: "gpu",
      [LABELS.gpuModelSeries]: "A10",
      [LABELS.gpuDriverVersion]: "570.133.20",
    });
    const comfy = container(m, "comfyui").resources as { requests: Obj; limits: Obj };
    expect(comfy.requests).toEqual({
      cpu: "11500m",
      memory: `${48 * 1024 - 512}Mi`,
      "nvidia.com/gpu": "1",
      "ephemeral-storage": "80Gi",
    });
    expect(comfy.limits).toEqual(comfy.requests);
    // The pod's total is exactly podCpu / podMemory: what ACS schedules and bills.
    const milli = (s: string) => (s.endsWith("m") ? Number(s.slice(0, -1)) : Number(s) * 1000);
    const mib = (s: string) => Number(s.replace(/Mi$/, ""));
    const totals = containers(m).reduce(
      (t, x) => {
        const r = x.resources.requests;
        return { cpu: t.cpu + milli(r.cpu ?? ""), memory: t.memory + mib(r.memory ?? "") };
      },
      { cpu: 0, memory: 0 },
    );
    expect(totals).toEqual({ cpu: 12_000, memory: 48 * 1024 });
    // Only ComfyUI holds the GPU.
    expect(
      containers(m).filter((x) => JSON.stringify(x.resources).includes("nvidia.com/gpu")),
    ).toHaveLength(1);
  });

  it("probes: startup budget for a cold pull, then readiness and liveness; /healthz over HTTPS with a pinned cert", () => {
    const m = build(inputs(acsConfig()));
    const gw = container(m, "gateway");
    expect(gw.startupProbe).toMatchObject({
      httpGet: { path: "/healthz", port: "https", scheme: "HTTPS" },
      periodSeconds: 10,
      // 30 minutes at 10 s: the budget without an image cache, unchanged.
      failureThreshold: 180,
    });
    expect(gw.readinessProbe).toMatchObject({ httpGet: { path: "/healthz" } });
    expect(gw.livenessProbe).toMatchObject({ tcpSocket: { port: "https" } });
    const comfy = container(m, "comfyui");
    expect(comfy.startupProbe).toMatchObject({
      exec: { command: expect.arrayContaining(["python"]) },
    });
    expect(JSON.stringify(comfy.livenessProbe)).toContain("127.0.0.1:8188/system_stats");
    // 30 minutes of startup budget on both containers.
    for (const x of [gw, comfy]) {
      const p = x.startupProbe as { periodSeconds: number; failureThreshold: number };
      expect(p.periodSeconds * p.failureThreshold).toBeGreaterThanOrEqual(30 * 60);
    }
    // With ACME the site answers only its domain (kubelet sends no SNI): the gateway is probed on TCP.
    const acme = build(
      inputs(acsConfig({ tls: "acme", domain: "vace.example.com", allowedCidrs: ["0.0.0.0/0"] }), {
        aclId: undefined,
      }),
    );
    expect(container(acme, "gateway").startupProbe).toMatchObject({ tcpSocket: { port: "https" } });
  });

  it("hardens every container: non-root, no capabilities, no escalation, RuntimeDefault seccomp, no API token but the scaler's", () => {
    const m = build(inputs(acsConfig()));
    const spec = podSpec(m).spec;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      runAsGroup: RUN_AS,
      fsGroup: RUN_AS,
      seccompProfile: { type: "RuntimeDefault" },
    });
    for (const x of containers(m)) {
      expect(x.securityContext, x.name).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        runAsNonRoot: true,
        privileged: false,
      });
    }
    const mounts = (name: string) =>
      (
        (container(m, name).volumeMounts as { name: string; mountPath: string }[] | undefined) ?? []
      ).map((v) => v.name);
    expect(mounts("comfyui")).toEqual([]);
    expect(mounts("gateway")).not.toContain("scaler-token");
    expect(mounts("scaler")).toContain("scaler-token");
    expect(m.serviceAccount.automountServiceAccountToken).toBe(false);
    expect(m.namespace.metadata?.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
    });
  });

  it("gives the scaler a Role on this Deployment's scale subresource only", () => {
    const m = build(inputs(acsConfig()));
    expect(m.role.rules).toEqual([
      {
        apiGroups: ["apps"],
        resources: ["deployments/scale"],
        resourceNames: [NAMES.deployment],
        verbs: ["get", "patch"],
      },
    ]);
    expect(m.roleBinding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: NAMES.scaler,
    });
    expect(m.roleBinding.subjects).toEqual([
      { kind: "ServiceAccount", name: NAMES.scaler, namespace: namespaceName("dev") },
    ]);
    expect(podSpec(m).spec.serviceAccountName).toBe(NAMES.scaler);
    expect(m.deployment.metadata?.name).toBe(NAMES.deployment);
    expect(container(m, "scaler").env).toEqual(
      expect.arrayContaining([
        { name: "WAN_VACE_NAMESPACE", value: namespaceName("dev") },
        { name: "WAN_VACE_DEPLOYMENT", value: NAMES.deployment },
        { name: "WAN_VACE_ACCESS_LOG", value: ACCESS_LOG },
      ]),
    );
    // The scaler reads the access log the gateway writes, from the volume they share.
    const logDir = ACCESS_LOG.slice(0, ACCESS_LOG.lastIndexOf("/"));
    expect(container(m, "gateway").volumeMounts).toEqual(
      expect.arrayContaining([{ name: "gateway-logs", mountPath: logDir }]),
    );
    expect(container(m, "scaler").volumeMounts).toEqual(
      expect.arrayContaining([{ name: "gateway-logs", mountPath: logDir, readOnly: true }]),
    );
  });

  it("ships the watchdog itself in the scaler's ConfigMap, with the ttl and idle settings", () => {
    const m = build(inputs(acsConfig({ idleStopMinutes: 45 })));
    const data = m.scalerConfig.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual([
      "acs_scaler.py",
      "idle_decision.py",
      "idle_watchdog.py",
      "settings.json",
    ]);
    expect(data["idle_decision.py"]).toContain("def decide(");
    expect(data["idle_watchdog.py"]).toContain("def scan_log(");
    expect(JSON.parse(data["settings.json"] as string)).toEqual({
      expiresAt: EXPIRES,
      idleStopMinutes: 45,
      graceMinutes: 30,
      unknownLimitMinutes: 60,
      intervalSeconds: 60,
    });
    // Several replicas: each pod sees only its own traffic, so only the ttl scales to 0.
    const many = build(inputs(acsConfig({ replicas: 2 })));
    expect(
      JSON.parse((many.scalerConfig.data as Record<string, string>)["settings.json"] as string)
        .idleStopMinutes,
    ).toBe(0);
  });

  it("restricts the load balancer with the ACL, and keeps a client on one pod", () => {
    const m = build(inputs(acsConfig({ replicas: 3 })));
    const a = m.service.metadata?.annotations as Record<string, string>;
    const p = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-";
    expect(a).toEqual({
      [`${p}id`]: "lb-t4nexample",
      [`${p}force-override-listeners`]: "true",
      [`${p}acl-status`]: "on",
      [`${p}acl-id`]: "acl-t4nexample",
      [`${p}acl-type`]: "white",
      [`${p}persistence-timeout`]: String(AFFINITY_SECONDS),
    });
    expect(m.service.spec).toMatchObject({
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: AFFINITY_SECONDS } },
      externalTrafficPolicy: "Local",
    });
    expect(m.service.spec).not.toHaveProperty("loadBalancerSourceRanges");
    const open = build(inputs(acsConfig({ allowedCidrs: ["0.0.0.0/0"] }), { aclId: undefined }));
    expect(
      Object.keys(open.service.metadata?.annotations ?? {}).filter((k) => k.includes("acl")),
    ).toEqual([]);
  });

  it("keeps secrets in Secrets only: token, TLS key and registry password appear nowhere else", () => {
    const c = acsConfig({ registryUsername: "u", registryPassword: "RegPass-5c3b" });
    const m = build(inputs(c, { dockerConfigJson: DOCKER }));
    const { gatewaySecret, registrySecret, ...rest } = m;
    const elsewhere = JSON.stringify(rest);
    for (const secret of [TOKEN, "SECRET-KEY-MATERIAL", "RegPass-5c3b"])
      expect(elsewhere).not.toContain(secret);
    expect(gatewaySecret.stringData).toEqual({ token: TOKEN, "tls.crt": CERT, "tls.key": KEY });
    expect(registrySecret).toMatchObject({
      type: "kubernetes.io/dockerconfigjson",
      stringData: { ".dockerconfigjson": DOCKER },
    });
    expect(podSpec(m).spec.imagePullSecrets).toEqual([{ name: NAMES.registrySecret }]);
    const env = container(m, "gateway").env;
    expect(env).toContainEqual({
      name: "VACE_TOKEN",
      valueFrom: { secretKeyRef: { name: NAMES.gatewaySecret, key: "token" } },
    });
    expect(env).toContainEqual({
      name: "VACE_TLS",
      value: `${TLS_DIR}/cert.pem ${TLS_DIR}/key.pem`,
    });
    expect(env).toContainEqual({ name: "VACE_LISTEN", value: `:${GATEWAY_PORT}` });
  });

  it("names: a DNS-1123 namespace per stack, label-safe selectors, one wake command", () => {
    expect(namespaceName("dev")).toBe("vace-dev");
    expect(namespaceName("Team/Prod_EU")).toBe("vace-team-prod-eu");
    expect(namespaceName("x".repeat(80))).toHaveLength(63);
    expect(selectorLabels("org/Team.dev")["app.kubernetes.io/instance"]).toBe("org-Team.dev");
    expect(wakeCommand(1)).toBe("pulumi up");
    expect(wakeCommand(0)).toBe("pulumi config set wan-vace:replicas 1 && pulumi up");
  });
});

/**
 * The ImageCache CR has no OpenAPI schema in kubernetes-models: it is checked against Alibaba's
 * published Kubernetes ImageCache API (imagecache.ts sources) and the Kubernetes name rules.
 */
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const imageCacheSchema = z
  .object({
    apiVersion: z.literal("eci.alibabacloud.com/v1"),
    kind: z.literal("ImageCache"),
    metadata: z
      .object({
        name: z.string().regex(DNS_SUBDOMAIN),
        labels: z.record(z.string(), z.string().max(63).regex(LABEL_VALUE)),
        annotations: z.record(z.string(), z.string()),
      })
      .strict(),
    spec: z
      .object({
        images: z.array(z.string().min(1)).length(1),
        imagePullSecrets: z.array(z.string().regex(/^[a-z0-9-]+:[a-z0-9.-]+$/)).optional(),
        imageCacheSize: z.number().int().min(20).max(32768),
        retentionDays: z.number().int().min(1).max(65536),
      })
      .strict(),
  })
  .strict();

describe("ACS manifests with wan-vace:imageCache", () => {
  const DIGEST = "0f".repeat(32);
  const PINNED = `registry-vpc.ap-southeast-1.aliyuncs.com/wan-vace/comfyui:0.1.0@sha256:${DIGEST}`;
  const cached = acsConfig({
    image: PINNED,
    imageCache: true,
    registryUsername: "u",
    registryPassword: "RegPass-5c3b",
    ttl: "36h",
    owner: "ml-platform",
  });
  const m = build(inputs(cached, { dockerConfigJson: DOCKER }));

  it("every object still validates against the Kubernetes OpenAPI schema; the CR against its API", async () => {
    const byKind = await validators();
    const { imageCache: cr, ...rest } = m;
    for (const o of all(rest as Plain) as Obj[]) {
      const Model = byKind[String(o.kind)];
      expect(Model, String(o.kind)).toBeDefined();
      if (Model) expect(() => new Model(o as never).validate(), `${o.kind}`).not.toThrow();
    }
    expect(imageCacheSchema.safeParse(cr).error).toBeUndefined();
  });

  it("caches exactly the pod's digest-pinned image, with a reference to the pull Secret only", () => {
    const cr = m.imageCache as {
      metadata: {
        name: string;
        labels: Record<string, string>;
        annotations: Record<string, string>;
      };
      spec: Record<string, unknown>;
    };
    expect(cr.metadata.name).toBe(`vace-dev-comfyui-${DIGEST.slice(0, 12)}`);
    expect(cr.spec).toEqual({
      images: [PINNED],
      imagePullSecrets: [`vace-dev:${NAMES.registrySecret}`],
      imageCacheSize: 40,
      // 36 h → 2 days, plus the week's margin.
      retentionDays: 9,
    });
    expect(container(m, "comfyui").image).toBe(PINNED);
    expect(cr.metadata.annotations).toEqual({
      "image.alibabacloud.com/cascade-delete-image-cache": "true",
      "wan-vace/project": "wan-vace",
      "wan-vace/stack": "dev",
      "wan-vace/owner": "ml-platform",
    });
    expect(cr.metadata.labels).toEqual(selectorLabels("dev"));
    expect(JSON.stringify(cr)).not.toContain("RegPass-5c3b");
  });

  it("the pod asks for the cache, pulls Always (ACS matches only then), and gets the cached start budget", () => {
    expect(podSpec(m).metadata.annotations).toMatchObject({
      "image.alibabacloud.com/enable-image-cache": "true",
    });
    expect(container(m, "comfyui").imagePullPolicy).toBe("Always");
    expect(container(m, "scaler").imagePullPolicy).toBe("Always");
    // The gateway's small image is not cached: its pull policy stays the default.
    expect(container(m, "gateway").imagePullPolicy).toBeUndefined();
    for (const name of ["comfyui", "gateway"]) {
      const p = container(m, name).startupProbe as {
        periodSeconds: number;
        failureThreshold: number;
      };
      expect(p.periodSeconds * p.failureThreshold, name).toBe(12 * 60);
    }
  });

  it("off: no CR, no annotation, no pull policy, the 30-minute budget", () => {
    const off = build(inputs(acsConfig({ image: PINNED }), {}));
    expect(off.imageCache).toBeUndefined();
    expect(podSpec(off).metadata.annotations).toEqual({
      "kubectl.kubernetes.io/default-container": "comfyui",
    });
    for (const c of containers(off)) expect(c.imagePullPolicy, c.name).toBeUndefined();
    const p = container(off, "comfyui").startupProbe as { failureThreshold: number };
    expect(p.failureThreshold).toBe(180);
  });
});
