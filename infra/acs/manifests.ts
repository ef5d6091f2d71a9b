/**
 * The Kubernetes objects of the ACS target, as pure builders. They return plain objects typed by
 * @pulumi/kubernetes's input types (so a misspelt field fails to compile); values that are secrets
 * at deploy (token, key, registry password) come in as inputs and only ever land in Secrets.
 * Tests validate every object against the Kubernetes OpenAPI schema (kubernetes-models).
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { ACCESS_LOG, COMFYUI_UPSTREAM, gatewayEnv, TLS_DIR } from "../common/gateway";
import { standardTags } from "../common/naming";
import type { TlsConfig, WanVaceConfig } from "../config";
import {
  IMAGE_CACHE_ANNOTATIONS,
  type ImageCacheObject,
  imageCacheObject,
  STARTUP_PERIOD_SECONDS,
  startupFailureThreshold,
} from "./imagecache";
import type { AcsConfig } from "./settings";

type In = pulumi.Input<string>;
type Secret = k8s.types.input.core.v1.Secret;
type Deployment = k8s.types.input.apps.v1.Deployment;
type Container = k8s.types.input.core.v1.Container;
type Probe = k8s.types.input.core.v1.Probe;

/** Object names inside the stack's own namespace; the scaler's Role names the Deployment. */
export const NAMES = {
  deployment: "vace",
  service: "vace",
  gatewaySecret: "vace-gateway",
  registrySecret: "vace-registry",
  scaler: "vace-scaler",
} as const;

/** The gateway listens here inside the pod: unprivileged, so no capability is needed. */
export const GATEWAY_PORT = 8443;
/** What clients dial on the load balancer. */
export const PUBLIC_PORT = 443;
/** The ComfyUI image's user (docker/comfyui/Dockerfile `useradd --uid 10001`). */
export const RUN_AS = 10001;
/** Where the scaler's files and settings are mounted (its ConfigMap). */
export const SCALER_DIR = "/opt/wan-vace-scaler";
const SCALER_STATE_DIR = "/run/wan-vace-scaler";
const GATEWAY_CONFIG_DIR = "/run/vace-gateway";
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** CLB TCP session persistence is at most 3600 s (CCM `persistence-timeout`). */
export const AFFINITY_SECONDS = 3600;

const ANNOTATION = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-";
export const LABELS = {
  computeClass: "alibabacloud.com/compute-class",
  gpuModelSeries: "alibabacloud.com/gpu-model-series",
  gpuDriverVersion: "alibabacloud.com/gpu-driver-version",
} as const;

/** A DNS-1123 label for the stack's namespace: `vace-<stack>`, lower-case, at most 63 characters. */
export function namespaceName(stack: string): string {
  const clean = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "");
  return `vace-${clean}`.slice(0, 63).replace(/-+$/, "");
}

/** Labels that select this stack's pods (label values allow 63 characters of [A-Za-z0-9_.-]). */
export function selectorLabels(stack: string): Record<string, string> {
  const value = stack
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return { "app.kubernetes.io/name": "wan-vace", "app.kubernetes.io/instance": value || "default" };
}

export interface ManifestInputs {
  stack: string;
  config: Pick<
    WanVaceConfig,
    "image" | "gatewayImage" | "tls" | "idleStopMinutes" | "registry" | "ttlMinutes" | "owner"
  >;
  acs: AcsConfig;
  /** ISO 8601: the scaler scales the Deployment to 0 from then on. */
  expiresAt: string;
  /** The stack-owned CLB the Service binds to. */
  loadBalancerId: In;
  /** The white-list ACL; undefined when allowedCidrs admits everyone. */
  aclId?: In;
  /** Secret inputs. */
  token: In;
  tls?: { certPem: In; keyPem: In };
  /** `.dockerconfigjson` content (secret), when registry credentials are set. */
  dockerConfigJson?: In;
  /** The scaler's Python files by name (infra/acs/scaler). */
  scalerFiles: Record<string, string>;
}

const meta = (name: string, namespace: string, stack: string) => ({
  name,
  namespace,
  labels: selectorLabels(stack),
});

const hardened = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  runAsNonRoot: true,
  privileged: false,
};

/** `docker/.dockerconfigjson` for one registry, as `kubectl create secret docker-registry` writes it. */
export function dockerConfigJson(server: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  return JSON.stringify({ auths: { [server]: { username, password, auth } } });
}

/** Pod resources: the pod total is exactly podCpu / podMemory, the sidecars' share taken from ComfyUI. */
export function containerResources(acs: AcsConfig) {
  const sidecar = { cpu: "250m", memory: "256Mi" };
  const comfy = {
    cpu: `${acs.podCpu * 1000 - 500}m`,
    memory: `${acs.podMemoryGiB * 1024 - 512}Mi`,
    "nvidia.com/gpu": "1",
    "ephemeral-storage": `${acs.ephemeralStorageGiB}Gi`,
  };
  // requests = limits: ACS bills and schedules on requests, and GPU pods are Guaranteed QoS.
  return {
    comfyui: { requests: comfy, limits: comfy },
    sidecar: { requests: sidecar, limits: sidecar },
  };
}

/** The ComfyUI image's own health check (docker/comfyui/Dockerfile HEALTHCHECK), as an exec probe. */
const COMFYUI_PROBE = [
  "python",
  "-c",
  `import urllib.request; urllib.request.urlopen('http://${COMFYUI_UPSTREAM}/system_stats', timeout=4)`,
];

/** A startup probe allowing the start budget (imagecache.ts startupBudgetSeconds) before liveness. */
function startupProbe(check: Probe, cached: boolean): Probe {
  return {
    ...check,
    periodSeconds: STARTUP_PERIOD_SECONDS,
    failureThreshold: startupFailureThreshold(cached),
  };
}

/**
 * Gateway probes. With a deploy-time certificate the site answers any host, so kubelet can call
 * /healthz over HTTPS (200 only when ComfyUI answers). With ACME the site answers only its domain
 * and kubelet sends no SNI, so the gateway is probed on TCP and ComfyUI by its own exec probe.
 */
export function gatewayProbes(
  tls: TlsConfig,
  cached = false,
): {
  startup: Probe;
  readiness: Probe;
  liveness: Probe;
} {
  const healthz =
    tls.mode === "selfsigned"
      ? { httpGet: { path: "/healthz", port: "https", scheme: "HTTPS" } }
      : { tcpSocket: { port: "https" } };
  return {
    startup: startupProbe({ ...healthz, timeoutSeconds: 5 }, cached),
    readiness: { ...healthz, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    // Liveness restarts only the gateway, so it checks the gateway itself, not ComfyUI behind it.
    liveness: {
      tcpSocket: { port: "https" },
      periodSeconds: 20,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
  };
}

/** The gateway's environment on ACS: the shared one, listening on the unprivileged pod port. */
export function gatewayEnvAcs(tls: TlsConfig): Record<string, string> {
  return {
    ...gatewayEnv({ tls }),
    VACE_LISTEN: `:${GATEWAY_PORT}`,
    // Caddy autosaves its adapted config; keep it on a memory volume (design.md contract 6).
    XDG_CONFIG_HOME: GATEWAY_CONFIG_DIR,
  };
}

/**
 * ACS matches an image cache only for containers that pull Always (imagecache.ts); with a digest
 * reference that re-reads the manifest, never the layers.
 */
const cachedPull = (i: ManifestInputs) =>
  i.acs.imageCache ? { imagePullPolicy: "Always" as const } : {};

function comfyuiContainer(i: ManifestInputs): Container {
  const probe = { exec: { command: COMFYUI_PROBE }, timeoutSeconds: 10 };
  return {
    name: "comfyui",
    image: i.config.image,
    ...cachedPull(i),
    resources: containerResources(i.acs).comfyui,
    securityContext: hardened,
    startupProbe: startupProbe(probe, i.acs.imageCache),
    readinessProbe: { ...probe, periodSeconds: 10, failureThreshold: 3 },
    // ComfyUI's API stays responsive while it renders; six misses in 3 minutes means it is stuck.
    livenessProbe: { ...probe, periodSeconds: 30, failureThreshold: 6 },
  };
}

function gatewayContainer(i: ManifestInputs): Container {
  const probes = gatewayProbes(i.config.tls, i.acs.imageCache);
  return {
    name: "gateway",
    image: i.config.gatewayImage,
    env: [
      ...Object.entries(gatewayEnvAcs(i.config.tls)).map(([name, value]) => ({ name, value })),
      {
        name: "VACE_TOKEN",
        valueFrom: { secretKeyRef: { name: NAMES.gatewaySecret, key: "token" } },
      },
    ],
    ports: [{ name: "https", containerPort: GATEWAY_PORT, protocol: "TCP" }],
    resources: containerResources(i.acs).sidecar,
    securityContext: hardened,
    startupProbe: probes.startup,
    readinessProbe: probes.readiness,
    livenessProbe: probes.liveness,
    volumeMounts: [
      ...(i.tls ? [{ name: "tls", mountPath: TLS_DIR, readOnly: true }] : []),
      { name: "gateway-logs", mountPath: ACCESS_LOG.slice(0, ACCESS_LOG.lastIndexOf("/")) },
      { name: "gateway-data", mountPath: "/data" },
      { name: "gateway-config", mountPath: GATEWAY_CONFIG_DIR },
    ],
  };
}

function scalerContainer(i: ManifestInputs, namespace: string): Container {
  return {
    name: "scaler",
    // The ComfyUI image has Python and is already on the node: no third image to pull or pin.
    image: i.config.image,
    ...cachedPull(i),
    command: ["python", `${SCALER_DIR}/acs_scaler.py`],
    env: [
      { name: "WAN_VACE_NAMESPACE", value: namespace },
      { name: "WAN_VACE_DEPLOYMENT", value: NAMES.deployment },
      { name: "WAN_VACE_SETTINGS", value: `${SCALER_DIR}/settings.json` },
      { name: "WAN_VACE_ACCESS_LOG", value: ACCESS_LOG },
      { name: "WAN_VACE_RUN_DIR", value: SCALER_STATE_DIR },
      { name: "WAN_VACE_QUEUE_URL", value: `http://${COMFYUI_UPSTREAM}/queue` },
      { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
    ],
    resources: containerResources(i.acs).sidecar,
    securityContext: { ...hardened, readOnlyRootFilesystem: true },
    volumeMounts: [
      { name: "scaler", mountPath: SCALER_DIR, readOnly: true },
      {
        name: "gateway-logs",
        mountPath: ACCESS_LOG.slice(0, ACCESS_LOG.lastIndexOf("/")),
        readOnly: true,
      },
      { name: "scaler-state", mountPath: SCALER_STATE_DIR },
      // The only container with an API credential: ComfyUI and the gateway get none.
      { name: "scaler-token", mountPath: SA_DIR, readOnly: true },
    ],
  };
}

/** The scaler's settings file; the ConfigMap updates it in place on `pulumi up` (no pod restart). */
export function scalerSettings(i: {
  expiresAt: string;
  config: Pick<WanVaceConfig, "idleStopMinutes">;
  acs: Pick<AcsConfig, "replicas">;
}): string {
  return `${JSON.stringify(
    {
      expiresAt: i.expiresAt,
      // Each pod sees only its own traffic, so idle scale-down acts only for a single replica.
      idleStopMinutes: i.acs.replicas <= 1 ? i.config.idleStopMinutes : 0,
      graceMinutes: 30,
      // As on ECS (IDLE_UNKNOWN_LIMIT_MINUTES): an unreadable queue counts as busy this long.
      unknownLimitMinutes: 60,
      intervalSeconds: 60,
    },
    null,
    2,
  )}\n`;
}

export function deployment(i: ManifestInputs, namespace: string): Deployment {
  const selector = selectorLabels(i.stack);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      ...meta(NAMES.deployment, namespace, i.stack),
      annotations: {
        // The scaler owns spec.replicas between deploys; `pulumi up` takes it back (waking the pod).
        "pulumi.com/patchForce": "true",
        // Changes on every deploy, so every `pulumi up` re-applies spec.replicas.
        "wan-vace/expires-at": i.expiresAt,
      },
    },
    spec: {
      replicas: i.acs.replicas,
      selector: { matchLabels: selector },
      // Never two GPU pods per replica during a rollout: the old one stops before the new one starts.
      strategy: { type: "Recreate" },
      revisionHistoryLimit: 3,
      progressDeadlineSeconds: 3600,
      template: {
        metadata: {
          labels: {
            ...selector,
            [LABELS.computeClass]: "gpu",
            [LABELS.gpuModelSeries]: i.acs.gpuModelSeries,
            [LABELS.gpuDriverVersion]: i.acs.driverVersion,
          },
          annotations: {
            "kubectl.kubernetes.io/default-container": "comfyui",
            ...(i.acs.imageCache && { [IMAGE_CACHE_ANNOTATIONS.enable]: "true" }),
          },
        },
        spec: {
          serviceAccountName: NAMES.scaler,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUN_AS,
            runAsGroup: RUN_AS,
            fsGroup: RUN_AS,
            seccompProfile: { type: "RuntimeDefault" },
          },
          ...(i.dockerConfigJson !== undefined && {
            imagePullSecrets: [{ name: NAMES.registrySecret }],
          }),
          containers: [comfyuiContainer(i), gatewayContainer(i), scalerContainer(i, namespace)],
          volumes: [
            ...(i.tls
              ? [
                  {
                    name: "tls",
                    secret: {
                      secretName: NAMES.gatewaySecret,
                      items: [
                        { key: "tls.crt", path: "cert.pem" },
                        { key: "tls.key", path: "key.pem" },
                      ],
                      defaultMode: 0o440,
                    },
                  },
                ]
              : []),
            // Caddy rolls its access log at 50 MiB and keeps 3.
            { name: "gateway-logs", emptyDir: { sizeLimit: "256Mi" } },
            { name: "gateway-data", emptyDir: { sizeLimit: "64Mi" } },
            { name: "gateway-config", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
            { name: "scaler", configMap: { name: NAMES.scaler, defaultMode: 0o444 } },
            { name: "scaler-state", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
            {
              name: "scaler-token",
              projected: {
                defaultMode: 0o440,
                sources: [
                  { serviceAccountToken: { path: "token", expirationSeconds: 3600 } },
                  {
                    configMap: {
                      name: "kube-root-ca.crt",
                      items: [{ key: "ca.crt", path: "ca.crt" }],
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    },
  };
}

export function service(i: ManifestInputs, namespace: string): k8s.types.input.core.v1.Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      ...meta(NAMES.service, namespace, i.stack),
      annotations: serviceAnnotations(i),
    },
    spec: {
      type: "LoadBalancer",
      selector: selectorLabels(i.stack),
      externalTrafficPolicy: "Local",
      // In-cluster clients; the CLB's own persistence (annotation) covers clients on the internet.
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: AFFINITY_SECONDS } },
      ports: [{ name: "https", port: PUBLIC_PORT, targetPort: "https", protocol: "TCP" }],
    },
  };
}

/**
 * CCM annotations (cloud-provider-alibaba-cloud annotation/annotations.go): bind the stack-owned
 * CLB, let the Service own its listeners, white-list allowedCidrs, and keep a client on one pod.
 * A port without `protocol-port` is a TCP listener, so TLS ends in the gateway.
 */
export function serviceAnnotations(
  i: Pick<ManifestInputs, "loadBalancerId" | "aclId">,
): Record<string, In> {
  return {
    [`${ANNOTATION}id`]: i.loadBalancerId,
    [`${ANNOTATION}force-override-listeners`]: "true",
    [`${ANNOTATION}persistence-timeout`]: String(AFFINITY_SECONDS),
    ...(i.aclId !== undefined && {
      [`${ANNOTATION}acl-status`]: "on",
      [`${ANNOTATION}acl-id`]: i.aclId,
      [`${ANNOTATION}acl-type`]: "white",
    }),
  };
}

/**
 * Waking a parked or scaled-down pod is one command: `pulumi up` re-applies spec.replicas (and
 * extends the ttl). A stack parked on purpose (replicas 0) first asks for a replica.
 */
export function wakeCommand(replicas: number): string {
  return replicas > 0 ? "pulumi up" : "pulumi config set wan-vace:replicas 1 && pulumi up";
}

export interface Manifests {
  namespace: k8s.types.input.core.v1.Namespace;
  gatewaySecret: Secret;
  registrySecret?: Secret;
  scalerConfig: k8s.types.input.core.v1.ConfigMap;
  serviceAccount: k8s.types.input.core.v1.ServiceAccount;
  role: k8s.types.input.rbac.v1.Role;
  roleBinding: k8s.types.input.rbac.v1.RoleBinding;
  deployment: Deployment;
  service: k8s.types.input.core.v1.Service;
  /** With `imageCache`: the cluster-wide ImageCache custom resource (imagecache.ts). */
  imageCache?: ImageCacheObject;
}

/** The ImageCache CR for this stack's ComfyUI image, tagged like the cloud resources. */
function imageCache(i: ManifestInputs, namespace: string): ImageCacheObject {
  const { "expires-at": _changesEveryDeploy, ...tags } = standardTags({
    stack: i.stack,
    owner: i.config.owner,
    expiresAt: i.expiresAt,
  });
  return imageCacheObject({
    namespace,
    labels: selectorLabels(i.stack),
    image: i.config.image,
    ...(i.dockerConfigJson !== undefined && { pullSecret: NAMES.registrySecret }),
    ttlMinutes: i.config.ttlMinutes,
    tags,
  });
}

export function buildManifests(i: ManifestInputs): Manifests {
  const ns = namespaceName(i.stack);
  return {
    namespace: {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: ns,
        labels: {
          ...selectorLabels(i.stack),
          // The pod meets the "restricted" Pod Security Standard; enforce it for the namespace.
          "pod-security.kubernetes.io/enforce": "restricted",
        },
      },
    },
    gatewaySecret: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta(NAMES.gatewaySecret, ns, i.stack),
      type: "Opaque",
      stringData: {
        token: i.token,
        ...(i.tls && { "tls.crt": i.tls.certPem, "tls.key": i.tls.keyPem }),
      },
    },
    ...(i.dockerConfigJson !== undefined && {
      registrySecret: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: meta(NAMES.registrySecret, ns, i.stack),
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": i.dockerConfigJson },
      },
    }),
    scalerConfig: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(NAMES.scaler, ns, i.stack),
      data: { ...i.scalerFiles, "settings.json": scalerSettings(i) },
    },
    serviceAccount: {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: meta(NAMES.scaler, ns, i.stack),
      automountServiceAccountToken: false,
    },
    role: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta(NAMES.scaler, ns, i.stack),
      // This Deployment's scale subresource and nothing else.
      rules: [
        {
          apiGroups: ["apps"],
          resources: ["deployments/scale"],
          resourceNames: [NAMES.deployment],
          verbs: ["get", "patch"],
        },
      ],
    },
    roleBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(NAMES.scaler, ns, i.stack),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NAMES.scaler },
      subjects: [{ kind: "ServiceAccount", name: NAMES.scaler, namespace: ns }],
    },
    deployment: deployment(i, ns),
    service: service(i, ns),
    ...(i.acs.imageCache && { imageCache: imageCache(i, ns) }),
  };
}
