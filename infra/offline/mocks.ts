/**
 * Pulumi mocks shared by `vace render` and every Pulumi test (one helper for both, so what a
 * reviewer sees in a render is what the tests assert on).
 *
 * The mocks record every resource registration and invoke. What the cloud would compute
 * (ids, addresses, lookups) comes from two tables the caller supplies: `invokes` answers data
 * sources, `computed` adds provider-computed outputs to a resource's state.
 */
import type * as pulumi from "@pulumi/pulumi";

/** Pulumi's marker for a secret value inside mock inputs (pulumi-testing-facts §1.4). */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export interface RecordedResource {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  provider?: string;
}

export interface RecordedInvoke {
  token: string;
  inputs: Record<string, unknown>;
}

export type InvokeHandler = (inputs: Record<string, unknown>) => Record<string, unknown>;
export type InvokeTable = Record<string, InvokeHandler>;
export type ComputedState = (r: RecordedResource) => Record<string, unknown>;

export interface MockRecord {
  resources: RecordedResource[];
  invokes: RecordedInvoke[];
}

/**
 * Mocks that record everything and answer from the given tables. An invoke with no handler
 * fails loudly: a silent `{}` would let a program read `undefined` and pass by accident.
 */
export function createMocks(
  invokes: InvokeTable,
  computed: ComputedState,
  idFor: (name: string) => string = (name) => `${name}-id`,
): { mocks: pulumi.runtime.Mocks; record: MockRecord } {
  const record: MockRecord = { resources: [], invokes: [] };
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const r: RecordedResource = {
        type: args.type,
        name: args.name,
        custom: args.custom ?? true,
        inputs: args.inputs,
        ...(args.provider !== undefined && { provider: args.provider }),
      };
      record.resources.push(r);
      return {
        id: r.custom ? idFor(args.name) : undefined,
        state: { ...args.inputs, ...computed(r) },
      };
    },
    call(args) {
      record.invokes.push({ token: args.token, inputs: args.inputs });
      const handler = invokes[args.token];
      if (!handler) throw new Error(`no offline answer for invoke ${args.token}`);
      return handler(args.inputs);
    },
  };
  return { mocks, record };
}

export function isSecretMarker(v: unknown): v is { value: unknown } {
  return (
    typeof v === "object" &&
    v !== null &&
    (v as Record<string, unknown>)[SECRET_SIG] === SECRET_SIG_VALUE
  );
}

/** Replaces every secret inside a recorded value with `replacement` (e.g. "[secret]"). */
export function redactSecrets(v: unknown, replacement: unknown = "[secret]"): unknown {
  if (isSecretMarker(v)) return replacement;
  if (Array.isArray(v)) return v.map((x) => redactSecrets(x, replacement));
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, redactSecrets(x, replacement)]),
    );
  }
  return v;
}

/** Removes secret markers, keeping the values (tests assert on raw inputs). */
export function unwrapSecrets(v: unknown): unknown {
  if (isSecretMarker(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** Invoke tokens the program uses; kept here so the render and test tables cannot drift. */
export const INVOKES = {
  instanceTypes: "alicloud:ecs/getInstanceTypes:getInstanceTypes",
  images: "alicloud:ecs/getImages:getImages",
  callerIdentity: "alicloud:index/getCallerIdentity:getCallerIdentity",
  instances: "alicloud:ecs/getInstances:getInstances",
  clusterCredential: "alicloud:cs/getClusterCredential:getClusterCredential",
} as const;

/**
 * One image as `ecs.getImages` lists it (alicloud 3.108 `GetImagesImage`, read from
 * DescribeImages and DescribeTags): shared by the test and render answers to a look-up by id.
 */
export function imageRecord(i: {
  id: string;
  name: string;
  ownerAlias: "self" | "system";
  tags?: Record<string, string>;
}): Record<string, unknown> {
  return {
    id: i.id,
    imageId: i.id,
    name: i.name,
    imageOwnerAlias: i.ownerAlias,
    architecture: "x86_64",
    osType: "linux",
    platform: "Ubuntu",
    osName: "Ubuntu 22.04 64 bit",
    status: "Available",
    state: "Available",
    progress: "100%",
    size: 100,
    usage: "instance",
    isCopied: false,
    isSelfShared: "",
    isSubscribed: false,
    isSupportIoOptimized: true,
    ...(i.tags !== undefined && { tags: i.tags }),
  };
}

/** Output names the cloud computes that the program reads, by resource type. */
export const COMPUTED_OUTPUTS: Record<string, readonly string[]> = {
  "alicloud:ecs/eipAddress:EipAddress": ["ipAddress"],
  "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer": ["address"],
  "alicloud:vpc/natGateway:NatGateway": ["snatTableIds"],
  "random:index/randomPassword:RandomPassword": ["result"],
  "random:index/randomString:RandomString": ["result"],
  "tls:index/privateKey:PrivateKey": ["privateKeyPem"],
  "tls:index/selfSignedCert:SelfSignedCert": ["certPem"],
};

/**
 * Waits until registrations stop arriving: components register children asynchronously, after
 * their inputs resolve, so "the program returned" is not "every resource is registered".
 */
export async function waitForRegistrations(record: MockRecord): Promise<void> {
  let last = -1;
  for (let stable = 0, i = 0; stable < 5 && i < 400; i++) {
    await new Promise((r) => setTimeout(r, 5));
    stable = record.resources.length === last ? stable + 1 : 0;
    last = record.resources.length;
  }
}
