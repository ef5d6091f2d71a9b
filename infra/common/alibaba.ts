/**
 * Alibaba Cloud's own rules, as pure checks: which regions exist, which GPU families we run on,
 * what a CIDR, a tag value or a RAM name may be, and where an image should be pulled from.
 * Each returns a message that says what to write instead, so config errors are actionable.
 */

/**
 * Region ids the provider knows: aliyun/terraform-provider-alicloud `connectivity/regions.go`
 * `ValidRegions` at 81c43b67, plus the newer ones declared there as constants.
 */
export const ALIBABA_REGIONS: readonly string[] = [
  "cn-hangzhou",
  "cn-qingdao",
  "cn-beijing",
  "cn-shenzhen",
  "cn-hongkong",
  "cn-shanghai",
  "cn-zhangjiakou",
  "cn-huhehaote",
  "cn-chengdu",
  "cn-heyuan",
  "cn-wulanchabu",
  "cn-guangzhou",
  "cn-nanjing",
  "cn-fuzhou",
  "cn-zhongwei",
  "us-west-1",
  "us-east-1",
  "us-southeast-1",
  "na-south-1",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-5",
  "ap-southeast-6",
  "ap-southeast-7",
  "ap-southeast-8",
  "ap-south-1",
  "me-east-1",
  "me-central-1",
  "eu-central-1",
  "eu-west-1",
  "rus-west-1",
  "cn-north-2-gov-1",
  "cn-shenzhen-finance-1",
  "cn-shanghai-finance-1",
  "cn-hangzhou-finance",
  "cn-beijing-finance-1",
];

/**
 * GPU families that fit Wan2.1-VACE-1.3B (alicloud-facts §1): gn6i (T4), gn7i (A10), gn7e (A100),
 * gn8is (L20), gn8ia/gn8v/gn8t, and their bare-metal ebmgn* twins.
 */
export const GPU_FAMILIES: readonly string[] = [
  "gn6i",
  "gn7i",
  "gn7e",
  "gn8is",
  "gn8ia",
  "gn8v",
  "gn8t",
  "ebmgn6i",
  "ebmgn7i",
  "ebmgn7e",
  "ebmgn8is",
  "ebmgn8ia",
  "ebmgn8v",
  "ebmgn8t",
];

/** ECS size suffixes: large, xlarge, and Nxlarge. */
const SIZES = ["large", "xlarge", ...[2, 3, 4, 6, 8, 12, 16, 24, 32, 48].map((n) => `${n}xlarge`)];

/** Levenshtein distance (small inputs: names and ids). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/** The closest known value within `maxDistance` edits, for "did you mean" hints. */
export function closest(
  value: string,
  known: readonly string[],
  maxDistance = 3,
): string | undefined {
  let best: string | undefined;
  let bestDistance = maxDistance + 1;
  for (const k of known) {
    const d = editDistance(value.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

export function regionProblem(region: string): string | undefined {
  if (ALIBABA_REGIONS.includes(region)) return undefined;
  const hint = closest(region, ALIBABA_REGIONS);
  return `${JSON.stringify(region)} is not an Alibaba Cloud region id${hint ? `; did you mean ${hint}?` : " (e.g. ap-southeast-1)"}`;
}

/** `ecs.<family>[-<variant>].<size>`, e.g. ecs.gn7i-c8g1.2xlarge or ecs.gn8is.2xlarge. */
const INSTANCE_TYPE = /^ecs\.([a-z0-9]+?)((?:-[a-z0-9]+)*)\.([a-z0-9]+)$/;

export function instanceTypeProblem(type: string): string | undefined {
  const m = INSTANCE_TYPE.exec(type);
  const example = "such as ecs.gn7i-c8g1.2xlarge";
  if (!m) return `${JSON.stringify(type)} is not an ECS instance type (${example})`;
  const [, family = "", variant = "", size = ""] = m;
  const familyOk = GPU_FAMILIES.includes(family);
  const sizeOk = SIZES.includes(size);
  if (familyOk && sizeOk) return undefined;
  const fixedFamily = familyOk ? family : closest(family, GPU_FAMILIES, 2);
  const fixedSize = sizeOk ? size : closest(size, SIZES, 2);
  const hint =
    fixedFamily && fixedSize ? `; did you mean ecs.${fixedFamily}${variant}.${fixedSize}?` : "";
  const what = !familyOk
    ? `is not a GPU instance type we support (family ${family} is not one of ${GPU_FAMILIES.join(", ")})`
    : `has no size ${JSON.stringify(size)} (sizes are large, xlarge, 2xlarge, 4xlarge, …)`;
  return `${JSON.stringify(type)} ${what}${hint}`;
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^(?:0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255))
    return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

const intToIpv4 = (n: number) =>
  [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");

/**
 * Why a CIDR cannot be used: IPv6 (the VPC, vSwitch, instance and EIP are IPv4 only, so an IPv6
 * rule would admit no one), malformed, or with host bits set (ambiguous: a typo for a network or
 * for one address).
 */
export function cidrProblem(cidr: string): string | undefined {
  const [ip = "", bits, ...rest] = cidr.trim().split("/");
  if (ip.includes(":")) {
    return `${JSON.stringify(cidr)} is IPv6, but the endpoint is IPv4 only (its VPC, vSwitch, instance and EIP have no IPv6 address), so the rule would admit no one; list IPv4 CIDRs like 203.0.113.0/24`;
  }
  const addr = ipv4ToInt(ip);
  const prefix = bits !== undefined && /^\d{1,2}$/.test(bits) ? Number(bits) : -1;
  if (addr === undefined || prefix < 0 || prefix > 32 || rest.length > 0) {
    return `${JSON.stringify(cidr)} is not a CIDR block like 203.0.113.0/24`;
  }
  const size = 2 ** (32 - prefix);
  const network = addr - (addr % size);
  if (network !== addr) {
    return `${JSON.stringify(cidr)} has host bits set; write ${intToIpv4(network)}/${prefix} for the network, or ${ip}/32 for the one address`;
  }
  return undefined;
}

/**
 * Tag keys and values may not start with `aliyun`, `acs:`, `http://` or `https://` (ECS
 * TagResources; OSS documents the check as case-insensitive).
 */
export function tagValueProblem(value: string): string | undefined {
  const m = /^(?:aliyun|acs:|https?:\/\/)/i.exec(value);
  return m
    ? `${JSON.stringify(value)} starts with "${m[0]}", which Alibaba Cloud reserves in tag values; choose a value that does not start with aliyun, acs:, http:// or https://`
    : undefined;
}

/** A Container Registry endpoint: its region, whether it is the VPC one, and the VPC one per region. */
interface AcrEndpoint {
  region: string;
  vpc: boolean;
  vpcHost: (region: string) => string;
}

/**
 * Container Registry hosts: personal edition `registry[-vpc].<region>.aliyuncs.com` and
 * `crpi-<id>[-vpc].<region>.personal.cr.aliyuncs.com`, enterprise edition
 * `<instance>-registry[-vpc].<region>.cr.aliyuncs.com`.
 */
function acrEndpoint(host: string): AcrEndpoint | undefined {
  let m = /^registry(-vpc)?\.([a-z0-9-]+)\.aliyuncs\.com$/.exec(host);
  if (m)
    return {
      region: m[2] as string,
      vpc: !!m[1],
      vpcHost: (r) => `registry-vpc.${r}.aliyuncs.com`,
    };
  m = /^(crpi-[a-z0-9]+?)(-vpc)?\.([a-z0-9-]+)\.personal\.cr\.aliyuncs\.com$/.exec(host);
  if (m) {
    const id = m[1] as string;
    return {
      region: m[3] as string,
      vpc: !!m[2],
      vpcHost: (r) => `${id}-vpc.${r}.personal.cr.aliyuncs.com`,
    };
  }
  m = /^([a-z0-9-]+?)-registry(-vpc)?\.([a-z0-9-]+)\.cr\.aliyuncs\.com$/.exec(host);
  if (m) {
    const instance = m[1] as string;
    return {
      region: m[3] as string,
      vpc: !!m[2],
      vpcHost: (r) => `${instance}-registry-vpc.${r}.cr.aliyuncs.com`,
    };
  }
  return undefined;
}

export interface RegistryAdvice {
  level: "error" | "warning";
  message: string;
}

/**
 * Where an instance in `region` should pull `host` from: the same region's VPC endpoint. Another
 * region's VPC endpoint does not resolve from this VPC; a public endpoint bills every pull (about
 * 15 GB per boot) as EIP traffic and is slower.
 */
export function registryAdvice(host: string, region: string): RegistryAdvice | undefined {
  const acr = acrEndpoint(host);
  if (!acr) {
    if (host.endsWith(".aliyuncs.com")) return undefined;
    return {
      level: "warning",
      message: `${host} is outside Alibaba Cloud: every boot pulls the image (about 15 GB) over the EIP, billed as traffic and slower; push it to Container Registry in ${region} and use its VPC endpoint`,
    };
  }
  const vpcHost = acr.vpcHost(region);
  if (acr.region !== region) {
    return {
      level: "error",
      message: `${host} is Container Registry in ${acr.region}, but the stack deploys to ${region}: push the image to ${region} and use ${vpcHost}`,
    };
  }
  if (!acr.vpc) {
    return {
      level: "error",
      message: `${host} is the public endpoint: every boot would pull about 15 GB over the EIP, billed as traffic; use the VPC endpoint ${vpcHost} (same image, same credentials)`,
    };
  }
  return undefined;
}
