/**
 * bench/gpu/fp8_load.py's dry mode (issue 13's GPU check), run for real with python3: without a
 * ComfyUI tree it says exactly what to pack; with one it passes; a named fp8 file must exist.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../test/binaries";

interface Dry {
  ok: boolean;
  checks: { check: string; ok: boolean; detail: string }[];
  modes: Record<string, [string, string]>;
  sampling: { seed: number; steps: number; latent: number[] };
}

let python3: string;
let work: string;

beforeAll(() => {
  python3 = requireBinary("python3");
  work = mkdtempSync(join(tmpdir(), "fp8-load-"));
  // Enough of a tree for the dry check (comfy/sd.py); the real run imports ComfyUI from it.
  mkdirSync(join(work, "ComfyUI", "comfy"), { recursive: true });
  writeFileSync(join(work, "ComfyUI", "comfy", "sd.py"), "");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function dry(args: string[]): { code: number | null; report: Dry } {
  const r = spawnSync(
    python3,
    [join(__dirname, "fp8_load.py"), "--dry", "--carry", join(work, "none"), ...args],
    {
      encoding: "utf8",
      timeout: 30_000,
    },
  );
  if (r.error) throw r.error;
  try {
    return { code: r.status, report: JSON.parse(r.stdout) as Dry };
  } catch {
    throw new Error(`fp8_load.py --dry printed no JSON (exit ${r.status}): ${r.stderr}`);
  }
}

const check = (report: Dry, name: string) => report.checks.find((c) => c.check === name);

describe("fp8_load.py --dry", () => {
  it("without a ComfyUI tree fails and names the command that packs one", () => {
    const { code, report } = dry([]);
    expect(code).toBe(1);
    expect(check(report, "ComfyUI tree")).toMatchObject({ ok: false });
    expect(check(report, "ComfyUI tree")?.detail).toContain(
      "comfyui_smoke.py prep sources --git comfyui=",
    );
    expect(check(report, "diffusion model spec")?.detail).toBe(
      "1264 tensors, 4309326464 bytes as fp16 (+fp32 patch embeddings)",
    );
  });

  it("with a ComfyUI tree plans the three loads and one seeded 4-step ci-shaped sampling", () => {
    const { code, report } = dry(["--comfyui", join(work, "ComfyUI")]);
    expect(code).toBe(0);
    expect(report.modes).toEqual({
      "fp16-file+fp8_fast": ["fp16", "fp8_e4m3fn_fast"],
      "fp8-file+fp8_fast": ["fp8", "fp8_e4m3fn_fast"],
      "fp8-file+default": ["fp8", "default"],
    });
    expect(report.sampling).toMatchObject({ steps: 4, latent: [1, 16, 4, 60, 60] });
    expect(check(report, "fp8 file")?.detail).toContain("converted on the GPU with torch");
  });

  it("refuses an fp8 file that does not exist", () => {
    const { code, report } = dry([
      "--comfyui",
      join(work, "ComfyUI"),
      "--fp8-file",
      join(work, "nope.safetensors"),
    ]);
    expect(code).toBe(1);
    expect(check(report, "fp8 file")).toMatchObject({
      ok: false,
      detail: `${join(work, "nope.safetensors")} does not exist`,
    });
  });
});
