/**
 * boot_timeline.py, the instance's boot timeline and model warm-up, run for real: against the
 * ComfyUI protocol double on loopback (the warm-up prompt passes its validation and runs), a second
 * double playing the gateway's /healthz, and fake nvidia-smi / docker executables.
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../../../test/binaries";
import {
  type ComfyDouble,
  LOOPBACK_CERT,
  startComfyDouble,
} from "../../../../test/doubles/comfyui/server";
import { runPython } from "./fake-cloud";

const PHASES = ["cloud-init", "driver", "docker", "images", "comfyui", "models", "gateway"];
const ROOT = resolve(__dirname, "../../../..");
const WARMUP = join(ROOT, "docker/comfyui/warmup.py");

interface Timeline {
  version: number;
  boots: string[];
  phases: Record<
    string,
    { at: number; ok?: boolean; error?: string; promptId?: string; seconds?: number }
  >;
}

let tmp: string;
const doubles: ComfyDouble[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "vace-timeline-"));
  // docker: `info` lists the nvidia runtime, `image inspect` succeeds; every call is logged.
  writeFileSync(
    join(tmp, "docker"),
    [
      "#!/bin/sh",
      `echo "$*" >>"${tmp}/docker.log"`,
      `[ "$1" = info ] && echo '{"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}'`,
      // `docker exec -e WAN_VACE_WARMUP_S=N wan-vace-comfyui python /opt/wan-vace/warmup.py`
      // runs the image's warm-up, here the repository's copy, against the double.
      `[ "$1" = exec ] && [ "$5" = python ] && [ "$6" = /opt/wan-vace/warmup.py ] && exec env "$3" python3 "${WARMUP}"`,
      "exit 0",
      "",
    ].join("\n"),
  );
  writeFileSync(join(tmp, "nvidia-smi"), "#!/bin/sh\necho 'GPU 0: NVIDIA A10'\n");
  writeFileSync(join(tmp, "no-nvidia-smi"), "#!/bin/sh\nexit 9\n");
  for (const f of ["docker", "nvidia-smi", "no-nvidia-smi"]) chmodSync(join(tmp, f), 0o755);
});

afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const COMFYUI_IMAGE = "registry/comfyui@sha256:aaa";
const GATEWAY_IMAGE = "registry/gateway@sha256:bbb";

/** What ensure-image.sh records before the units start their containers (here: one baked, one pulled). */
function writeImagesLog(dir: string) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "images.log"),
    `present ${COMFYUI_IMAGE}\npulled ${GATEWAY_IMAGE}\npulled ${COMFYUI_IMAGE}\n`,
  );
}

async function setup(name: string, comfyScenario = {}) {
  const comfy = await startComfyDouble(comfyScenario);
  const gateway = await startComfyDouble({ token: "t".repeat(40) }, { tls: true });
  doubles.push(comfy, gateway);
  const dir = join(tmp, name);
  const cloudInitStart = Date.now() / 1000 - 95;
  writeFileSync(
    join(tmp, `${name}-status.json`),
    JSON.stringify({
      v1: { "init-local": { start: cloudInitStart, finished: null }, init: { start: null } },
    }),
  );
  writeFileSync(join(tmp, `${name}-boot`), "boot-1\n");
  writeImagesLog(dir);
  const env = {
    WAN_VACE_STATUS_DIR: dir,
    WAN_VACE_COMFYUI_URL: comfy.url,
    WAN_VACE_WARMUP_POLL_S: "0.05",
    WAN_VACE_GATEWAY: new URL(gateway.url).host,
    WAN_VACE_CLOUD_INIT_STATUS: join(tmp, `${name}-status.json`),
    WAN_VACE_BOOT_ID_FILE: join(tmp, `${name}-boot`),
    WAN_VACE_NVIDIA_SMI: join(tmp, "nvidia-smi"),
    WAN_VACE_DOCKER: join(tmp, "docker"),
    WAN_VACE_POLL_S: "0.05",
    COMFYUI_IMAGE,
    GATEWAY_IMAGE,
  };
  const read = () => JSON.parse(readFileSync(join(dir, "boot-timeline.json"), "utf8")) as Timeline;
  return { comfy, env, dir, read, cloudInitStart, bootFile: join(tmp, `${name}-boot`) };
}

describe("boot timeline and warm-up (boot_timeline.py)", () => {
  requireBinary("python3");
  requireBinary("ffmpeg");

  it("records the seven phases in order, warming the models with a prompt the double accepts and runs", async () => {
    const s = await setup("full");
    const r = await runPython(["boot_timeline.py"], s.env);
    expect(r.code, r.stderr).toBe(0);
    const t = s.read();
    expect(Object.keys(t.phases).sort()).toEqual([...PHASES].sort());
    const times = PHASES.map((p) => t.phases[p]?.at as number);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(t.phases["cloud-init"]?.at).toBeCloseTo(s.cloudInitStart, 2);
    expect(t.boots).toEqual(["boot-1"]);
    // The warm-up ran to success on loopback, as ComfyUI's client "wan-vace-warmup".
    expect(t.phases.models).toMatchObject({
      ok: true,
      promptId: s.comfy.received.prompts[0]?.promptId,
    });
    expect(s.comfy.received.prompts).toHaveLength(1);
    expect(s.comfy.received.prompts[0]?.clientId).toBe("wan-vace-warmup");
    // Warmed in the ComfyUI container, with the time left; both images checked by their references.
    expect(readFileSync(join(tmp, "docker.log"), "utf8")).toMatch(
      /exec -e WAN_VACE_WARMUP_S=\d+ wan-vace-comfyui python \/opt\/wan-vace\/warmup\.py/,
    );
    expect(readFileSync(join(tmp, "docker.log"), "utf8")).toContain(
      "image inspect registry/comfyui@sha256:aaa registry/gateway@sha256:bbb",
    );
    // The images phase says which image the host had and which the boot pulled (the first
    // decision counts: a later restart's pull does not turn a baked image into a pulled one).
    expect(t.phases.images).toMatchObject({ present: [COMFYUI_IMAGE], pulled: [GATEWAY_IMAGE] });
    // World-readable: ComfyUI (uid 10001 in its container) serves it read-only through the gateway.
    expect(statSync(join(s.dir, "boot-timeline.json")).mode & 0o777).toBe(0o644);
  });

  it("warms exactly the loaders and model files of the deployed workflow", async () => {
    const s = await setup("loaders");
    expect((await runPython(["boot_timeline.py"], s.env)).code).toBe(0);
    const loaders = (p: Record<string, { class_type: string; inputs: Record<string, unknown> }>) =>
      Object.values(p)
        .filter((n) => n.class_type.endsWith("Loader"))
        .map((n) => [n.class_type, n.inputs])
        .sort();
    const workflow = JSON.parse(readFileSync(join(ROOT, "workflows/vace-r2v.json"), "utf8"));
    expect(loaders(s.comfy.received.prompts[0]?.prompt ?? {})).toEqual(loaders(workflow));
  });

  it("a later boot (the driver's reboot) keeps the first boot's marks and adds its id", async () => {
    const s = await setup("reboot");
    expect((await runPython(["boot_timeline.py"], s.env)).code).toBe(0);
    const first = s.read();
    writeFileSync(s.bootFile, "boot-2\n");
    expect((await runPython(["boot_timeline.py"], s.env)).code).toBe(0);
    const second = s.read();
    expect(second.boots).toEqual(["boot-1", "boot-2"]);
    expect(second.phases).toEqual(first.phases);
    expect(s.comfy.received.prompts).toHaveLength(1);
  });

  it("a failed warm-up is recorded with ComfyUI's message, and the gateway phase still follows", async () => {
    const s = await setup("warm-fails", { failAt: { node: "7", message: "CUDA out of memory" } });
    expect((await runPython(["boot_timeline.py"], s.env)).code).toBe(0);
    const t = s.read();
    expect(t.phases.models).toMatchObject({ ok: false });
    expect(t.phases.models?.error).toContain("CUDA out of memory");
    expect(t.phases.gateway?.at).toBeGreaterThanOrEqual(t.phases.models?.at as number);
  });

  it("gives up after its deadline, naming the phase, with what it had recorded", async () => {
    const s = await setup("no-driver");
    const r = await runPython(["boot_timeline.py"], {
      ...s.env,
      WAN_VACE_NVIDIA_SMI: join(tmp, "no-nvidia-smi"),
      WAN_VACE_TIMELINE_S: "0.3",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("wan-vace-timeline: gave up waiting for driver");
    expect(Object.keys(s.read().phases)).toEqual(["cloud-init"]);
  });

  it("marks images only once ensure-image.sh has decided for both (a baked host has them at boot)", async () => {
    const s = await setup("undecided");
    writeFileSync(join(s.dir, "images.log"), `present ${COMFYUI_IMAGE}\n`);
    const r = await runPython(["boot_timeline.py"], { ...s.env, WAN_VACE_TIMELINE_S: "0.3" });
    expect(r.stderr).toContain("gave up waiting for images");
    expect(Object.keys(s.read().phases).sort()).toEqual(["cloud-init", "docker", "driver"]);
  });

  it("with ACME, asks the gateway for its domain (SNI and Host), as Caddy serves only that site", async () => {
    // Like Caddy with `https://vace.example.com:443`: no other name gets an answer.
    const domain = "vace.example.com";
    const caddyLike = createServer(
      {
        cert: readFileSync(LOOPBACK_CERT),
        key: readFileSync(join(ROOT, "test/doubles/comfyui/tls/loopback-key.pem")),
      },
      (req, res) => {
        const sni = (req.socket as TLSSocket).servername;
        res.writeHead(sni === domain && req.headers.host === domain ? 200 : 421).end();
      },
    );
    await new Promise<void>((r) => caddyLike.listen(0, "127.0.0.1", r));
    try {
      const s = await setup("acme");
      const env = {
        ...s.env,
        WAN_VACE_GATEWAY: `127.0.0.1:${(caddyLike.address() as AddressInfo).port}`,
      };
      const withDomain = await runPython(["boot_timeline.py"], { ...env, TLS_DOMAIN: domain });
      expect(withDomain.code, withDomain.stderr).toBe(0);
      expect(Object.keys(s.read().phases)).toContain("gateway");
      rmSync(s.dir, { recursive: true });
      writeImagesLog(s.dir);
      const without = await runPython(["boot_timeline.py"], { ...env, WAN_VACE_TIMELINE_S: "3" });
      expect(without.stderr).toContain("gave up waiting for gateway");
    } finally {
      caddyLike.close();
    }
  });
});
