/**
 * The one typed, validated configuration of a wan-vace stack. Every default lives here.
 *
 * Validation is pure: it takes the raw `wan-vace:*` values (strings from the Pulumi engine, or
 * native YAML values from a stack file) and returns either a config or every problem at once,
 * each naming its key. Nothing is created until the whole config is valid.
 */
import { z } from "zod";
import { type AcsConfig, acsIssues, acsShape, wrongTargetKeys } from "./acs/settings";
import {
  cidrProblem,
  closest,
  instanceTypeProblem,
  regionProblem,
  registryAdvice,
  tagValueProblem,
} from "./common/alibaba";
import { formatMinutes, parseDurationMinutes } from "./common/duration";
import { MAX_TTL_MINUTES, MIN_TTL_MINUTES } from "./common/ttl";

export const PROJECT = "wan-vace";

/** A-Z a-z 0-9 `_` `-`: what the gateway accepts (it compares the token literally in headers and URLs). */
const TOKEN_CHARSET = /^[A-Za-z0-9_-]+$/;
export const MIN_TOKEN_LENGTH = 32;
export const MAX_TOKEN_LENGTH = 512;
/** CUDA 12.8 (the image's base) needs NVIDIA driver 570 or newer. */
export const MIN_DRIVER_MAJOR = 570;
/**
 * Ubuntu's datacenter driver branch installed by `driver: apt`. 580 is NVIDIA's long-term branch;
 * Ubuntu has turned its 570-server packages into transitional packages that pull 580-server.
 */
export const DEFAULT_DRIVER_BRANCH = "580";

/**
 * Docker image reference grammar, after distribution/reference's regexp.go:
 * [host[:port]/]path[:tag][@sha256:digest]. We additionally require a tag or a digest (pinning).
 */
const IMAGE_REF =
  /^(?:(?<host>(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::\d+)?)\/)?(?<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$/;

export const DEFAULT_INSTANCE_TYPES = [
  "ecs.gn7i-c8g1.2xlarge", // A10 24 GB, 8 vCPU: the seed's trial type
  "ecs.gn7i-c16g1.4xlarge", // A10, 16 vCPU
  "ecs.gn7i-c32g1.8xlarge", // A10, 32 vCPU
  "ecs.gn8is.2xlarge", // L20 48 GB
  "ecs.gn6i-c8g1.2xlarge", // T4 16 GB: slower, but enough VRAM for 1.3B at 480P
  "ecs.gn6i-c4g1.xlarge", // T4, 4 vCPU
] as const;

export type TlsMode = "selfsigned" | "internal" | "acme";
export type Target = "ecs" | "acs";

export interface RegistryCredentials {
  /** The registry host to log in to (from the image reference). */
  server: string;
  username: string;
  /** Secret: comes from a `secure:` config value. */
  password: string;
}

/**
 * The default: Ubuntu's signed `nvidia-*-<branch>-server` packages through apt, which checks them
 * against the Ubuntu archive key the image already trusts (docs/ecs-boot.md "The driver install").
 */
export interface AptDriver {
  mode: "apt";
  /** Driver branch, e.g. "580": the packages are nvidia-*-580-server. */
  branch: string;
}

/** Alibaba's GPU driver script at first boot (ecs-boot-facts §3); opt-in only. */
export interface AutoInstallDriver {
  mode: "auto-install";
  driverVersion: string;
  cudaVersion: string;
  cudnnVersion: string;
  /** sha256 of Alibaba's auto_install script; the boot refuses any other script. */
  scriptSha256?: string;
  /** Set only by `driverScriptUnverified: true`: run the script without a checksum. */
  scriptUnverified?: true;
}

/** TLS in front of the gateway: a deploy-time certificate, Caddy's CA, or ACME for a domain. */
export type TlsConfig =
  | { mode: "selfsigned" }
  | { mode: "internal" }
  | { mode: "acme"; domain: string; email?: string };

export interface WanVaceConfig {
  target: Target;
  region: string;
  instanceTypes: string[];
  zones: string[];
  allowedCidrs: string[];
  sshCidrs: string[];
  keyPairName?: string;
  spot: boolean;
  ttlMinutes: number;
  idleStopMinutes: number;
  image: string;
  gatewayImage: string;
  registry?: RegistryCredentials;
  /** Secret when set; undefined means "generate one at deploy". */
  token?: string;
  tls: TlsConfig;
  systemDiskSizeGiB: number;
  eipBandwidthMbps: number;
  owner: string;
  driver: AptDriver | AutoInstallDriver | { mode: "preinstalled"; imageId: string };
  osImageNameRegex: string;
  /** Ask the BSS pricing API for hourly prices (needs bss:DescribePrice). */
  priceLookup: boolean;
  /** Present exactly when target is "acs" (infra/acs/settings.ts). */
  acs?: AcsConfig;
  /** `vace bake` only (set by ops in the `<stack>-bake` stack): which stage to build. */
  bake?: BakeStage;
  /** An image made by `vace bake` to boot from instead of the looked-up OS image (ECS only). */
  bakedImageId?: string;
}

/**
 * What a bake put into its image: the builder's verdict line (ops/bake.ts parses it from the
 * serial console) plus the project commit. Every value becomes an image tag.
 */
export interface BakeContents {
  /** `repo@sha256:…`, as docker recorded the pulled image (RepoDigests). */
  comfyuiImage: string;
  gatewayImage: string;
  /** nvidia-smi's driver_version, e.g. 580.95.05. */
  driver: string;
  /** docker's server version, e.g. 27.5.1. */
  docker: string;
  /** nvidia-container-toolkit's package version, e.g. 1.17.8-1. */
  toolkit: string;
  /** uname -r of the builder, e.g. 5.15.0-130-generic. */
  kernel: string;
  /** The project's git commit the bake ran from. */
  commit: string;
}

/** Stage 1 makes the builder instance; stage 2 keeps it and adds the image (BAKE-CONTRACT.md). */
export type BakeStage = { stage: "builder" } | { stage: "image"; contents: BakeContents };

/** Keys whose values are secrets: never echoed in errors, always wrapped with pulumi.secret. */
export const SECRET_KEYS = ["token", "registryPassword"] as const;

export interface ConfigIssue {
  /** Fully qualified key, e.g. `wan-vace:ttl`. */
  key: string;
  message: string;
}

export type ConfigResult =
  | { ok: true; config: WanVaceConfig; warnings: ConfigIssue[] }
  | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(
      `invalid configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues
        .map((i) => `  ${i.key}: ${i.message}`)
        .join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

// ---- raw value coercion: Pulumi hands us strings, YAML hands us native values -------------

const list = (item: z.ZodType<string>) =>
  z.preprocess(
    (v) => {
      if (typeof v !== "string") return v;
      const t = v.trim();
      if (t.startsWith("[")) {
        try {
          return JSON.parse(t);
        } catch {
          return v;
        }
      }
      return t === "" ? [] : t.split(",").map((s) => s.trim());
    },
    z.array(item, { error: "must be a list (YAML list, JSON array or comma-separated string)" }),
  );

const bool = z.preprocess(
  (v) => (v === "true" ? true : v === "false" ? false : v),
  z.boolean({ error: "must be true or false" }),
);

const int = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v),
    z
      .number({ error: "must be a whole number" })
      .int({ error: "must be a whole number" })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );

/** A string checked by one of the pure rules in common/alibaba (each message says what to write). */
const ruled = (problem: (v: string) => string | undefined, error: string) =>
  z.string({ error }).check((ctx) => {
    const message = problem(ctx.value);
    if (message) ctx.issues.push({ code: "custom", input: ctx.value, message });
  });

/** IPv4 only, no host bits, and no CIDR twice (each becomes a named rule; Pulumi rejects twins). */
const cidrList = list(ruled(cidrProblem, "must be CIDR blocks like 203.0.113.0/24")).check(
  (ctx) => {
    const seen = new Set<string>();
    for (const c of ctx.value) {
      if (seen.has(c))
        ctx.issues.push({
          code: "custom",
          input: c,
          message: `lists ${c} more than once; remove the duplicate`,
        });
      seen.add(c);
    }
  },
);

const duration = (min: number, max: number) =>
  // YAML reads `ttl: 4` as a number: say which unit to add rather than "expected string".
  z
    .preprocess(
      (v) => (typeof v === "number" ? String(v) : v),
      z.string({ error: "must be a duration like 45m, 4h or 2d" }),
    )
    .check((ctx) => {
      const minutes = parseDurationMinutes(ctx.value);
      if (/^\d+$/.test(ctx.value.trim())) {
        const n = ctx.value.trim();
        ctx.issues.push({
          code: "custom",
          input: ctx.value,
          message: `${n} has no unit; write ${n}h for hours (e.g. ttl: ${n}h), ${n}m for minutes or ${n}d for days`,
        });
      } else if (minutes === undefined) {
        ctx.issues.push({
          code: "custom",
          input: ctx.value,
          message: `${JSON.stringify(ctx.value)} is not a duration like 45m, 4h, 2d or 1h30m`,
        });
      } else if (minutes < min || minutes > max) {
        ctx.issues.push({
          code: "custom",
          input: ctx.value,
          message: `must be between ${formatMinutes(min)} and ${formatMinutes(max)} (ECS autoReleaseTime must be at least 30 minutes and less than 3 years ahead), got ${formatMinutes(minutes)}`,
        });
      }
    });

const imageRef = z.string().check((ctx) => {
  const problem = imageRefProblem(ctx.value);
  if (problem) ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
});

/** Why an image reference is unusable, or undefined when it is a pinned, well-formed reference. */
export function imageRefProblem(ref: string): string | undefined {
  const m = IMAGE_REF.exec(ref);
  if (!m?.groups) {
    return `${JSON.stringify(ref)} is not a valid image reference (expected registry/namespace/repo:tag or …@sha256:<64 hex>)`;
  }
  const { tag, digest } = m.groups;
  if (!tag && !digest)
    return `${JSON.stringify(ref)} has no tag or digest; pin an exact tag or a sha256 digest`;
  if (tag === "latest" && !digest)
    return `${JSON.stringify(ref)} uses "latest"; pin an exact tag or a sha256 digest`;
  return undefined;
}

/** The registry host of an image reference (Docker Hub when the first part is not a host). */
export function registryHost(ref: string): string {
  const first = ref.split("/")[0] ?? "";
  return ref.includes("/") && /[.:]/.test(first) ? first : "docker.io";
}

/**
 * The gateway sidecar's default reference: same registry and namespace as the ComfyUI image,
 * repository `gateway`, same tag (`docker/build-push.sh` pushes both that way). Undefined when
 * the image has no tag to share (pinned by digest alone).
 */
export function defaultGatewayImage(image: string): string | undefined {
  const m = IMAGE_REF.exec(image);
  const tag = m?.groups?.tag;
  if (!m?.groups || !tag) return undefined;
  const name = image.split("@")[0]?.slice(0, -(tag.length + 1)) ?? "";
  const slash = name.lastIndexOf("/");
  return `${name.slice(0, slash + 1)}gateway:${tag}`;
}

const schema = z
  .object({
    target: z
      .enum(["ecs", "acs"], {
        error: (i) => `unknown target ${JSON.stringify(i.input)}; use "ecs" or "acs"`,
      })
      .default("ecs"),
    region: ruled(regionProblem, "must be a region id like ap-southeast-1").default(
      "ap-southeast-1",
    ),
    instanceTypes: list(
      ruled(instanceTypeProblem, "must be instance types like ecs.gn7i-c8g1.2xlarge"),
    )
      .refine((v) => v.length > 0, {
        error: "must list at least one GPU instance type, in preference order",
      })
      .default([...DEFAULT_INSTANCE_TYPES]),
    zones: list(
      z
        .string()
        .regex(/^[a-z]{2,}(?:-[a-z0-9]+)+$/, { error: "must be zone ids like ap-southeast-1a" }),
    ).default([]),
    allowedCidrs: cidrList
      .refine((v) => v.length > 0, {
        error: "must list at least one CIDR (use 0.0.0.0/0 to allow everyone)",
      })
      .default(["0.0.0.0/0"]),
    sshCidrs: cidrList.default([]),
    keyPairName: z.string().min(1).optional(),
    spot: bool.default(false),
    ttl: duration(MIN_TTL_MINUTES, MAX_TTL_MINUTES).default("4h"),
    idleStopMinutes: int(0, 7 * 24 * 60).default(30),
    image: imageRef.optional(),
    gatewayImage: imageRef.optional(),
    registryUsername: z.string().min(1).optional(),
    registryPassword: z.string().min(1).optional(),
    token: z
      .string()
      .check((ctx) => {
        // Never echo the value: it is a secret.
        if (ctx.value.length < MIN_TOKEN_LENGTH)
          ctx.issues.push({
            code: "custom",
            input: "[secret]",
            message: `must be at least ${MIN_TOKEN_LENGTH} characters (got ${ctx.value.length}); omit it to generate one`,
          });
        if (ctx.value.length > MAX_TOKEN_LENGTH)
          ctx.issues.push({
            code: "custom",
            input: "[secret]",
            message: `must be at most ${MAX_TOKEN_LENGTH} characters (got ${ctx.value.length})`,
          });
        if (!TOKEN_CHARSET.test(ctx.value))
          ctx.issues.push({
            code: "custom",
            input: "[secret]",
            message:
              "may contain only A-Z a-z 0-9 _ - (the gateway compares it literally in headers and URLs)",
          });
      })
      .optional(),
    tls: z
      .enum(["selfsigned", "acme"], {
        error: (i) =>
          i.input === "internal"
            ? "internal is not offered on ECS: behind the EIP Caddy's CA signs for the private address and no client could verify it; use selfsigned (pinned) or acme"
            : `unknown TLS mode ${JSON.stringify(i.input)}; use selfsigned or acme`,
      })
      .default("selfsigned"),
    domain: z
      .string()
      .regex(/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, {
        error: "must be a DNS name like vace.example.com",
      })
      .optional(),
    acmeEmail: z
      .string()
      // Narrower than RFC 5322: what the gateway and the boot scripts accept verbatim.
      .regex(/^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, {
        error: "must be an email address (letters, digits and . _ % + - only)",
      })
      .optional(),
    systemDiskSize: int(60, 500).default(100),
    eipBandwidth: int(1, 200).default(100),
    owner: z
      .string()
      .regex(/^[\w.@+-]{1,64}$/, {
        error: "must be 1-64 characters of letters, digits and . _ @ + -",
      })
      .check((ctx) => {
        const message = tagValueProblem(ctx.value);
        if (message) ctx.issues.push({ code: "custom", input: ctx.value, message });
      })
      .default("wan-vace"),
    driver: z
      .enum(["apt", "auto-install", "preinstalled"], {
        error: (i) =>
          `unknown driver mode ${JSON.stringify(i.input)}; use apt, auto-install or preinstalled`,
      })
      .default("apt"),
    driverBranch: z
      .string()
      .regex(/^\d{3}$/, { error: "must be an NVIDIA driver branch like 580" })
      .refine((v) => Number(v) >= MIN_DRIVER_MAJOR, {
        error: `must be ${MIN_DRIVER_MAJOR} or newer: the ComfyUI image uses CUDA 12.8`,
      })
      .default(DEFAULT_DRIVER_BRANCH),
    driverVersion: z
      .string()
      .regex(/^\d+\.\d+(?:\.\d+)?$/, { error: "must be a driver version like 570.133.20" })
      // The image is built on CUDA 12.8 (docker/comfyui), which needs a 570-series driver or newer.
      .refine((v) => Number(v.split(".")[0]) >= MIN_DRIVER_MAJOR, {
        error: `must be ${MIN_DRIVER_MAJOR} or newer: the ComfyUI image uses CUDA 12.8`,
      })
      .default("570.133.20"),
    cudaVersion: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/)
      .default("12.8.1"),
    cudnnVersion: z
      .string()
      .regex(/^\d+(?:\.\d+){2,3}$/)
      .default("9.8.0.87"),
    driverScriptSha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/, { error: "must be a sha256: 64 lower-case hex characters" })
      .optional(),
    driverScriptUnverified: bool.default(false),
    imageId: z
      .string()
      .regex(/^m-[a-z0-9]+$/, { error: "must be an ECS image id like m-t4n..." })
      .optional(),
    osImageNameRegex: z.string().default("^ubuntu_22_04_x64_20G_alibase_"),
    priceLookup: bool.default(false),
    bakedImageId: z
      .string()
      .regex(/^m-[A-Za-z0-9]+$/, {
        error: "must be an ECS image id like m-t4n0abc123 (the image id `vace bake` printed)",
      })
      .optional(),
    // ---- set by `vace bake` (ops/bake.ts) in its `<stack>-bake` stack, never by hand ----
    bakeStage: z
      .enum(["builder", "image"], {
        error: (i) =>
          `unknown bake stage ${JSON.stringify(i.input)}; it is set by vace bake to builder or image`,
      })
      .optional(),
    bakeContents: z.string().optional(),
    // ---- target "acs" only (infra/acs/settings.ts) ----
    ...acsShape(int, bool),
  })
  .strict()
  .strict();

/** A version string safe as an ECS tag value: what the builder read from the tool itself. */
const versionField = (example: string) =>
  z
    .string({ error: `must be a version string like ${example}` })
    .regex(/^[0-9A-Za-z][0-9A-Za-z.+~:_-]{0,63}$/, {
      error: `must be a version string like ${example} (letters, digits and . + ~ : _ -)`,
    });

/** A digest-pinned reference: the tag holds the digest, so a tag-only reference cannot be recorded. */
const bakedImageRef = z.string({ error: "must be an image reference" }).check((ctx) => {
  const problem = imageRefProblem(ctx.value);
  const message =
    problem ??
    (/@sha256:[a-f0-9]{64}$/.test(ctx.value)
      ? undefined
      : `${JSON.stringify(ctx.value)} carries no @sha256 digest (the builder records what docker pulled)`);
  if (message) ctx.issues.push({ code: "custom", input: ctx.value, message });
});

const bakeContentsSchema = z.object({
  comfyuiImage: bakedImageRef,
  gatewayImage: bakedImageRef,
  driver: versionField("580.95.05"),
  docker: versionField("27.5.1"),
  toolkit: versionField("1.17.8-1"),
  kernel: versionField("5.15.0-130-generic"),
  commit: z
    .string({ error: "must be a git commit" })
    .regex(/^[0-9a-f]{7,40}$/, { error: "must be a git commit: 7-40 lower-case hex characters" }),
});

/**
 * `wan-vace:bakeContents`, a JSON object as one string: the contents, or one issue per bad field
 * (each naming the key and the field). Unknown fields (the verdict's `ok`) are ignored.
 */
export function parseBakeContents(
  raw: unknown,
): { ok: true; contents: BakeContents } | { ok: false; errors: ConfigIssue[] } {
  const key = `${PROJECT}:bakeContents`;
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return {
        ok: false,
        errors: [{ key, message: "is not JSON; it is the object vace bake read from the builder" }],
      };
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      errors: [{ key, message: "must be a JSON object (what vace bake read from the builder)" }],
    };
  }
  const r = bakeContentsSchema.safeParse(value);
  if (r.success) return { ok: true, contents: r.data };
  return {
    ok: false,
    errors: r.error.issues.map((i) => ({
      key,
      message: `${i.path.map(String).join(".")}: ${i.message}`,
    })),
  };
}

/** The bake keys against each other and the target; single-key problems come from the schema. */
function bakeIssues(v: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const issue = (key: string, message: string) =>
    issues.push({ key: `${PROJECT}:${key}`, message });
  const target = v.target ?? "ecs";
  if (v.bakedImageId !== undefined && target !== "ecs")
    issue(
      "bakedImageId",
      `is an ECS image and means nothing with target "${String(target)}"; remove it`,
    );
  if (v.bakeStage !== undefined && target !== "ecs")
    issue("bakeStage", `vace bake builds an ECS image; target is "${String(target)}"`);
  if (v.bakedImageId !== undefined && v.bakeStage !== undefined)
    issue(
      "bakedImageId",
      "conflicts with bakeStage: a bake starts from the public OS image; remove bakedImageId from the bake stack",
    );
  if (v.bakedImageId !== undefined && v.driver === "preinstalled")
    issue(
      "bakedImageId",
      'conflicts with driver "preinstalled" (imageId): boot from one image; a baked image has its driver',
    );
  if (v.bakeStage === "image" && v.bakeContents === undefined)
    issue("bakeContents", "is required with bakeStage image: what the builder put into the image");
  if (v.bakeContents !== undefined && v.bakeStage !== "image")
    issue("bakeContents", "is only used with bakeStage image (set by vace bake); remove it");
  if (v.bakeContents !== undefined) {
    const r = parseBakeContents(v.bakeContents);
    if (!r.ok) issues.push(...r.errors);
  }
  return issues;
}

/**
 * Rules between keys. They run on the raw values even when single keys are invalid, so one run
 * reports every problem (zod skips object refinements once a field fails).
 */
function crossFieldIssues(v: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const need = (cond: boolean, key: string, message: string) => {
    if (!cond) issues.push({ key: `${PROJECT}:${key}`, message });
  };
  const tls = v.tls ?? "selfsigned";
  const nonEmpty = (x: unknown) =>
    x !== undefined && x !== "" && x !== "[]" && !(Array.isArray(x) && x.length === 0);
  need(
    v.image !== undefined,
    "image",
    "is required: the pinned ComfyUI image to run (see docs/image.md to build and push it)",
  );
  need(
    typeof v.image !== "string" ||
      v.gatewayImage !== undefined ||
      imageRefProblem(v.image) !== undefined ||
      defaultGatewayImage(v.image) !== undefined,
    "gatewayImage",
    "is required when image is pinned by digest alone (the default reuses the image's tag)",
  );
  need(
    tls !== "acme" || v.domain !== undefined,
    "domain",
    'is required when tls is "acme" (ACME needs a DNS name pointing at the endpoint)',
  );
  need(
    tls === "acme" || v.domain === undefined,
    "domain",
    `is only used with tls "acme" (tls is "${String(tls)}"); remove it or set tls: acme`,
  );
  need(
    (v.registryUsername === undefined) === (v.registryPassword === undefined),
    v.registryUsername === undefined ? "registryUsername" : "registryPassword",
    "registryUsername and registryPassword go together: set both, or neither for a public image",
  );
  issues.push(...driverIssues(v));
  need(
    v.driver !== "preinstalled" || v.imageId !== undefined,
    "imageId",
    'is required when driver is "preinstalled": an ECS image id that already has the NVIDIA driver',
  );
  need(
    !nonEmpty(v.sshCidrs) || v.keyPairName !== undefined,
    "keyPairName",
    "is required when sshCidrs is set: SSH is key-only",
  );
  for (const i of targetIssues(v).errors)
    issues.push({ key: `${PROJECT}:${i.key}`, message: i.message });
  issues.push(...bakeIssues(v));
  return issues;
}

/** A key counts as set when its value differs from its default (Pulumi fills declared defaults in). */
function differsFromDefault(v: Record<string, unknown>, key: string): boolean {
  if (v[key] === undefined) return false;
  const field = (schema.shape as Record<string, z.ZodType>)[key];
  const given = field?.safeParse(v[key]);
  const fallback = field?.safeParse(undefined);
  return !(
    given?.success &&
    fallback?.success &&
    JSON.stringify(given.data) === JSON.stringify(fallback.data)
  );
}

/** The per-target rules: keys of the other target, and the ACS rules (infra/acs/settings.ts). */
function targetIssues(v: Record<string, unknown>) {
  const wrong = wrongTargetKeys(v.target, (k) => differsFromDefault(v, k));
  if (v.target !== "acs") return { errors: wrong, warnings: [] };
  const listOf = (key: "zones" | "allowedCidrs"): unknown[] => {
    const r = schema.shape[key].safeParse(v[key]);
    return r.success ? r.data : [];
  };
  const acs = acsIssues(v, listOf("zones"), listOf("allowedCidrs"));
  return { errors: [...wrong, ...acs.errors], warnings: acs.warnings };
}

const isTrue = (x: unknown) => x === true || x === "true";

/**
 * Alibaba's driver script is fetched over plain HTTP and run as root, and Alibaba publishes no
 * checksum for it: it runs only when pinned by sha256 or explicitly marked unverified.
 */
function driverIssues(v: Record<string, unknown>): ConfigIssue[] {
  const mode = v.driver ?? "apt";
  const issues: ConfigIssue[] = [];
  // ACS has no driver to install: wrongTargetKeys reports any driver key set there.
  if (v.target === "acs") return issues;
  const issue = (key: string, message: string) =>
    issues.push({ key: `${PROJECT}:${key}`, message });
  const unverified = isTrue(v.driverScriptUnverified);
  // The versions and the branch have defaults (Pulumi.yaml passes them to every stack), so only
  // the two keys that are about the script itself are rejected in the other modes.
  if (mode !== "auto-install") {
    for (const [key, set] of [
      ["driverScriptSha256", v.driverScriptSha256 !== undefined],
      ["driverScriptUnverified", unverified],
    ] as const) {
      if (set) {
        issue(
          key,
          `is only used with driver "auto-install" (driver is "${String(mode)}"); remove it, or set driver: auto-install`,
        );
      }
    }
    return issues;
  }
  if (v.driverScriptSha256 === undefined && !unverified) {
    issue(
      "driverScriptSha256",
      `is required with driver "auto-install": Alibaba's script is downloaded over plain HTTP and run as root. Set its sha256, use driver "apt" (the default: signed Ubuntu packages), or set ${PROJECT}:driverScriptUnverified: true to run it unchecked`,
    );
  }
  if (v.driverScriptSha256 !== undefined && unverified) {
    issue(
      "driverScriptUnverified",
      "conflicts with driverScriptSha256: the script is either pinned or unverified; remove one",
    );
  }
  return issues;
}

/**
 * Where the images are pulled from, against the region: another region's registry fails, a public
 * endpoint bills every pull as EIP traffic (errors); a registry outside Alibaba warns.
 */
function registryIssues(v: Record<string, unknown>): {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
} {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const region = typeof v.region === "string" ? v.region : "ap-southeast-1";
  for (const key of ["image", "gatewayImage"] as const) {
    const ref = v[key];
    if (typeof ref !== "string" || imageRefProblem(ref) !== undefined) continue;
    const advice = registryAdvice(registryHost(ref), region);
    if (advice)
      (advice.level === "error" ? errors : warnings).push({
        key: `${PROJECT}:${key}`,
        message: advice.message,
      });
  }
  return { errors, warnings };
}

type RawConfig = z.input<typeof schema>;

/** Every key a stack may set (bare, without the `wan-vace:` prefix). */
export const CONFIG_KEYS: readonly string[] = Object.keys(schema.shape);

function suggestKey(key: string): string | undefined {
  return closest(key, CONFIG_KEYS);
}

/**
 * Validates raw config. `raw` holds either bare keys (`ttl`) or project-qualified keys (`wan-vace:ttl`);
 * keys of other namespaces (e.g. `alicloud:region`) are ignored.
 */
export function parseConfig(raw: Record<string, unknown>): ConfigResult {
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const [ns, key] = k.includes(":") ? (k.split(":", 2) as [string, string]) : [PROJECT, k];
    if (ns === PROJECT && v !== undefined && v !== null) values[key] = v;
  }
  const parsed = schema.safeParse(values as RawConfig);
  const warnings: ConfigIssue[] = [];
  const registry = registryIssues(values);
  warnings.push(...registry.warnings);
  const crossField = [...crossFieldIssues(values), ...registry.errors];
  if (!parsed.success || crossField.length > 0) {
    const errors = (parsed.error?.issues ?? []).flatMap((issue): ConfigIssue[] => {
      if (issue.code === "unrecognized_keys") {
        return issue.keys.map((k) => {
          const hint = suggestKey(k);
          return {
            key: `${PROJECT}:${k}`,
            message: `unknown key${hint ? `; did you mean ${PROJECT}:${hint}?` : ""}`,
          };
        });
      }
      const [top, ...rest] = issue.path;
      const where = rest.length ? ` (item ${rest.map(String).join(".")})` : "";
      return [{ key: `${PROJECT}:${String(top ?? "")}`, message: `${issue.message}${where}` }];
    });
    return { ok: false, errors: [...errors, ...crossField], warnings };
  }
  const c = parsed.data as z.output<typeof schema>;
  const image = c.image as string;
  for (const w of targetIssues(values).warnings)
    warnings.push({ key: `${PROJECT}:${w.key}`, message: w.message });
  if (c.driver === "auto-install" && c.driverScriptUnverified) {
    warnings.push({
      key: `${PROJECT}:driverScriptUnverified`,
      message:
        "Alibaba's driver script will be downloaded over plain HTTP and run as root without a checksum; pin it with driverScriptSha256 or use driver apt",
    });
  }
  if (c.allowedCidrs.some((x) => x === "0.0.0.0/0" || x === "::/0")) {
    warnings.push({
      key: `${PROJECT}:allowedCidrs`,
      message:
        "port 443 is open to the whole internet (token auth and TLS are always on); set allowedCidrs to your office/CI ranges to narrow it",
    });
  }
  const config: WanVaceConfig = {
    target: c.target,
    region: c.region,
    instanceTypes: c.instanceTypes,
    zones: c.zones,
    allowedCidrs: c.allowedCidrs,
    sshCidrs: c.sshCidrs,
    ...(c.keyPairName !== undefined && { keyPairName: c.keyPairName }),
    spot: c.spot,
    ttlMinutes: parseDurationMinutes(c.ttl) as number,
    idleStopMinutes: c.idleStopMinutes,
    image,
    gatewayImage: c.gatewayImage ?? (defaultGatewayImage(image) as string),
    ...(c.registryUsername !== undefined &&
      c.registryPassword !== undefined && {
        registry: {
          server: registryHost(image),
          username: c.registryUsername,
          password: c.registryPassword,
        },
      }),
    ...(c.token !== undefined && { token: c.token }),
    tls:
      c.tls === "acme"
        ? {
            mode: "acme",
            domain: c.domain as string,
            ...(c.acmeEmail !== undefined && { email: c.acmeEmail }),
          }
        : { mode: c.tls },
    systemDiskSizeGiB: c.systemDiskSize,
    eipBandwidthMbps: c.eipBandwidth,
    owner: c.owner,
    driver:
      c.driver === "preinstalled"
        ? { mode: "preinstalled", imageId: c.imageId as string }
        : c.driver === "apt"
          ? { mode: "apt", branch: c.driverBranch }
          : {
              mode: "auto-install",
              driverVersion: c.driverVersion,
              cudaVersion: c.cudaVersion,
              cudnnVersion: c.cudnnVersion,
              ...(c.driverScriptSha256 !== undefined && { scriptSha256: c.driverScriptSha256 }),
              ...(c.driverScriptUnverified && { scriptUnverified: true as const }),
            },
    osImageNameRegex: c.osImageNameRegex,
    priceLookup: c.priceLookup,
    ...(c.bakedImageId !== undefined && { bakedImageId: c.bakedImageId }),
    ...(c.bakeStage === "builder" && { bake: { stage: "builder" as const } }),
    ...(c.bakeStage === "image" && {
      bake: { stage: "image" as const, contents: bakeContentsOf(c.bakeContents) },
    }),
    ...(c.target === "acs" && {
      acs: {
        ...(c.clusterId !== undefined && { clusterId: c.clusterId }),
        gpuModelSeries: c.gpuModelSeries,
        replicas: c.replicas,
        podCpu: c.podCpu,
        podMemoryGiB: c.podMemory,
        ephemeralStorageGiB: c.ephemeralStorage,
        driverVersion: c.driverVersion,
        imageCache: c.imageCache,
      },
    }),
  };
  return { ok: true, config, warnings };
}

/** Contents already validated by bakeIssues. */
function bakeContentsOf(raw: unknown): BakeContents {
  const r = parseBakeContents(raw);
  if (!r.ok) throw new ConfigError(r.errors);
  return r.contents;
}

/** Like parseConfig, but throws a ConfigError listing every problem. */
export function loadConfig(raw: Record<string, unknown>): {
  config: WanVaceConfig;
  warnings: ConfigIssue[];
} {
  const r = parseConfig(raw);
  if (!r.ok) throw new ConfigError(r.errors);
  return { config: r.config, warnings: r.warnings };
}
