/**
 * docker/build-push.sh and the image workflow, checked without Docker or a registry: the script
 * is shellcheck-clean, refuses bad settings, and (--dry-run) builds both images from the right
 * Dockerfiles and contexts; the workflow runs that script with actions pinned by commit.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { requireBinary } from "../test/binaries";

const ROOT = resolve(__dirname, "..");
const SCRIPT = join(__dirname, "build-push.sh");
const WORKFLOW = join(ROOT, ".github/workflows/image.yml");
const ACR = { ACR_REGISTRY: "registry.cn-hangzhou.aliyuncs.com", ACR_NAMESPACE: "wan-vace" };

function buildPush(env: Record<string, string>, ...args: string[]) {
  requireBinary("git"); // the script tags images with the commit it builds
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(ACR_|TAG$|COMFYUI_REPO|GATEWAY_REPO)/.test(k)),
  );
  return spawnSync("bash", [SCRIPT, ...args], { env: { ...clean, ...env }, encoding: "utf8" });
}

describe("docker/build-push.sh", () => {
  it("is clean under shellcheck", () => {
    const r = spawnSync(requireBinary("shellcheck"), [SCRIPT], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
  });

  it("builds the gateway, then the ComfyUI image from the repository root, tagged for ACR", () => {
    const r = buildPush({ ...ACR, TAG: "v1" }, "--dry-run");
    expect(r.status, r.stderr).toBe(0);
    const cmds = r.stderr.trim().split("\n");
    expect(cmds).toHaveLength(2);
    expect(cmds[0]).toMatch(
      /^\+ docker buildx build --platform linux\/amd64 --build-arg VCS_REF=[0-9a-f]{40}(-dirty)? --file docker\/gateway\/Dockerfile --tag registry\.cn-hangzhou\.aliyuncs\.com\/wan-vace\/gateway:v1 --metadata-file \S+\/gateway\.json --push docker\/gateway$/,
    );
    expect(cmds[1]).toMatch(
      / --file docker\/comfyui\/Dockerfile --tag registry\.cn-hangzhou\.aliyuncs\.com\/wan-vace\/comfyui:v1 --metadata-file \S+ --push \.$/,
    );
    expect(buildPush({ ...ACR, TAG: "v1" }, "--dry-run", "--no-push").stderr).toContain(" --load ");
  });

  it("refuses missing or malformed settings with exit 2 and says what to set", () => {
    const cases: [Record<string, string>, string][] = [
      [{ ACR_NAMESPACE: "wan-vace" }, "set ACR_REGISTRY"],
      [
        { ...ACR, ACR_REGISTRY: "https://registry.cn-hangzhou.aliyuncs.com" },
        "is not a registry host",
      ],
      [{ ACR_REGISTRY: ACR.ACR_REGISTRY }, "set ACR_NAMESPACE"],
      [{ ...ACR, ACR_NAMESPACE: "Wan Vace" }, "must be lowercase"],
      [{ ...ACR, TAG: "a:b" }, "is not a valid image tag"],
    ];
    for (const [env, message] of cases) {
      const r = buildPush(env, "--dry-run");
      expect(r.status, message).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect(buildPush({ ...ACR, TAG: "v1" }, "--push-it").stderr).toContain(
      "unknown argument '--push-it'",
    );
  });
});

describe(".github/workflows/image.yml", () => {
  const wf = parse(readFileSync(WORKFLOW, "utf8"));
  const job = wf.jobs["build-push"];
  const steps: { uses?: string; run?: string; with?: Record<string, string> }[] = job.steps;
  const work = mkdtempSync(join(tmpdir(), "vace-image-wf-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("pins every action to a full commit and pushes with docker/build-push.sh", () => {
    const uses = steps.flatMap((s) => (s.uses ? [s.uses] : []));
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u).toMatch(/^[\w-]+\/[\w-]+@[0-9a-f]{40}$/);
    expect(steps.some((s) => s.run?.includes("docker/build-push.sh"))).toBe(true);
    expect(wf.permissions).toEqual({ contents: "read" });
  });

  it("uses secrets only as action inputs, never inside a shell script", () => {
    const login = steps.find((s) => s.uses?.startsWith("docker/login-action@"));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a JS template
    expect(login?.with?.password).toBe("${{ secrets.ACR_PASSWORD }}");
    for (const s of steps) expect(s.run ?? "").not.toMatch(/secrets\./);
  });

  it("runs shell steps under bash with pipefail, each clean under shellcheck", () => {
    expect(job.defaults).toEqual({ run: { shell: "bash" } });
    for (const [i, s] of steps.entries()) {
      if (!s.run) continue;
      const file = join(work, `step${i}.sh`);
      writeFileSync(file, `#!/usr/bin/env bash\nset -eo pipefail\n${s.run}`);
      const r = spawnSync(requireBinary("shellcheck"), [file], { encoding: "utf8" });
      expect(r.stdout + r.stderr, `step ${i}`).toBe("");
    }
  });
});

describe("the references build-push.sh prints for the stack", () => {
  it("use the VPC host, which new ACR instances require for pulls", () => {
    const vpcRef = (ref: string) =>
      spawnSync(
        "bash",
        ["-c", `source <(sed -n '/^vpc_ref()/,/^}/p' "$0"); vpc_ref "$1"`, SCRIPT, ref],
        { encoding: "utf8" },
      ).stdout;
    expect(vpcRef("registry.cn-hangzhou.aliyuncs.com/wan-vace/comfyui:v1")).toBe(
      "registry-vpc.cn-hangzhou.aliyuncs.com/wan-vace/comfyui:v1",
    );
    expect(vpcRef("crpi-abc123.ap-southeast-1.personal.cr.aliyuncs.com/wan-vace/gateway:v1")).toBe(
      "crpi-abc123-vpc.ap-southeast-1.personal.cr.aliyuncs.com/wan-vace/gateway:v1",
    );
    expect(vpcRef("localhost:5000/wan-vace/comfyui:v1")).toBe("localhost:5000/wan-vace/comfyui:v1");
  });
});
