import {
  type AptDriver,
  type AutoInstallDriver,
  imageRefProblem,
  MIN_DRIVER_MAJOR,
  type TlsConfig,
} from "../../config";

/**
 * deploy: install the host, pull, start the units (a fresh OS image). bake: a `vace bake` builder
 * (files/bake.sh). baked: boot from a baked image: verify, pull only a changed digest, start.
 */
export type BootMode = "deploy" | "bake" | "baked";

/** What the instance needs to know at boot. Nothing here is secret: it all lands in user-data. */
export interface BootSettings {
  /** Default "deploy". */
  mode?: BootMode;
  /** The `vace bake` image the instance boots from (mode "baked"): in boot.env, so a new one replaces the instance. */
  bakedImageId?: string;
  /** Region id, e.g. "ap-southeast-1": the OOS and ECS API endpoints are regional. */
  region: string;
  /**
   * OOS secret parameter whose value is JSON:
   * {"token", "tlsCertPem"?, "tlsKeyPem"?, "registryUsername"?, "registryPassword"?}.
   */
  secretParameterName: string;
  /** Pinned ComfyUI image (tag or digest). */
  comfyuiImage: string;
  /** Pinned gateway sidecar image. */
  gatewayImage: string;
  /** docker login host when the secret carries registry credentials (ACR -vpc endpoint). */
  registryServer?: string;
  tls: TlsConfig;
  /** Stop (StopCharging) after this many minutes without a request; 0 disables the watchdog. */
  idleStopMinutes: number;
  /** Minutes after each boot during which the watchdog never stops the instance (default 30). */
  idleGraceMinutes?: number;
  driver: AptDriver | AutoInstallDriver | { mode: "preinstalled" };
}

export class BootSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid boot settings:\n  ${problems.join("\n  ")}`);
    this.name = "BootSettingsError";
  }
}

const HOST =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Returns every problem at once, each naming its field; empty when the settings are usable. */
export function bootSettingsProblems(s: BootSettings): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, field: string, message: string) => {
    if (!ok) problems.push(`${field}: ${message}`);
  };
  check(
    /^[a-z]{2,}(?:-[a-z0-9]+)+$/.test(s.region),
    "region",
    `${JSON.stringify(s.region)} is not a region id like ap-southeast-1`,
  );
  check(
    s.mode === undefined || ["deploy", "bake", "baked"].includes(s.mode),
    "mode",
    `unknown mode ${JSON.stringify(s.mode)}; use deploy, bake or baked`,
  );
  if (s.bakedImageId !== undefined)
    check(
      /^m-[A-Za-z0-9]+$/.test(s.bakedImageId),
      "bakedImageId",
      "must be an image id like m-t4n0abc",
    );
  check(
    /^[A-Za-z0-9_./-]{1,180}$/.test(s.secretParameterName),
    "secretParameterName",
    "must be 1-180 characters of letters, digits and _ . / -",
  );
  for (const field of ["comfyuiImage", "gatewayImage"] as const) {
    const problem = imageRefProblem(s[field]);
    check(problem === undefined, field, problem ?? "");
  }
  if (s.registryServer !== undefined) {
    const [host, port, ...rest] = s.registryServer.split(":");
    check(
      HOST.test(host ?? "") && (port === undefined || /^\d{1,5}$/.test(port)) && rest.length === 0,
      "registryServer",
      `${JSON.stringify(s.registryServer)} is not a host[:port]`,
    );
  }
  if (s.tls.mode === "acme") {
    check(
      DNS_NAME.test(s.tls.domain),
      "tls.domain",
      `${JSON.stringify(s.tls.domain)} is not a DNS name like vace.example.com`,
    );
    if (s.tls.email !== undefined) {
      check(
        /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/.test(s.tls.email),
        "tls.email",
        "must be a plain address like ops@example.com",
      );
    }
  } else {
    check(
      ["selfsigned", "internal"].includes(s.tls.mode),
      "tls.mode",
      `unknown mode ${JSON.stringify(s.tls.mode)}`,
    );
  }
  check(
    Number.isInteger(s.idleStopMinutes) && s.idleStopMinutes >= 0 && s.idleStopMinutes <= 10_080,
    "idleStopMinutes",
    "must be a whole number of minutes from 0 (off) to 10080",
  );
  if (s.idleGraceMinutes !== undefined) {
    check(
      Number.isInteger(s.idleGraceMinutes) && s.idleGraceMinutes >= 5 && s.idleGraceMinutes <= 720,
      "idleGraceMinutes",
      "must be a whole number of minutes from 5 to 720",
    );
  }
  if (s.driver.mode === "auto-install") {
    const d = s.driver;
    check(
      /^\d+(?:\.\d+){1,2}$/.test(d.driverVersion),
      "driver.driverVersion",
      "must look like 550.127.08",
    );
    check(/^\d+\.\d+\.\d+$/.test(d.cudaVersion), "driver.cudaVersion", "must look like 12.4.1");
    check(
      /^\d+(?:\.\d+){2,3}$/.test(d.cudnnVersion),
      "driver.cudnnVersion",
      "must look like 9.2.0.82",
    );
    if (d.scriptSha256 !== undefined) {
      check(
        /^[a-f0-9]{64}$/.test(d.scriptSha256),
        "driver.scriptSha256",
        "must be 64 lower-case hex digits",
      );
    }
    // The script comes over plain HTTP and runs as root: pinned, or unverified on purpose.
    check(
      (d.scriptSha256 === undefined) === (d.scriptUnverified === true),
      "driver.scriptSha256",
      "set it, or scriptUnverified: true (not both) to run Alibaba's script unchecked",
    );
  } else if (s.driver.mode === "apt") {
    check(
      /^\d{3}$/.test(s.driver.branch) && Number(s.driver.branch) >= MIN_DRIVER_MAJOR,
      "driver.branch",
      `must be a driver branch like 580, ${MIN_DRIVER_MAJOR} or newer`,
    );
  } else {
    check(
      s.driver.mode === "preinstalled",
      "driver.mode",
      `unknown mode ${JSON.stringify((s.driver as { mode: unknown }).mode)}`,
    );
  }
  return problems;
}

export function validateBootSettings(s: BootSettings): void {
  const problems = bootSettingsProblems(s);
  if (problems.length > 0) throw new BootSettingsError(problems);
}
