/**
 * bench/gpu/fp8_load.py's dry mode (issue 13's GPU check), run for real with python3: without a
 * ComfyUI tree it says exactly what to pack; with one it passes; a named fp8 file must exist.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

  it("uses the image build's converter when it is carried with node", () => {
    const carry = join(work, "carry");
    mkdirSync(carry, { recursive: true });
    const sha = (file: string, body: string) => {
      writeFileSync(join(carry, file), body);
      return createHash("sha256").update(body).digest("hex");
    };
    const manifest = {
      tools: { node: { file: "node.xz", sha256: sha("node.xz", "n"), version: "v22.99.0" } },
      fp8_convert: {
        file: "fp8-convert.cjs.xz",
        sha256: sha("fp8-convert.cjs.xz", "c"),
        commit: "0".repeat(40),
      },
    };
    writeFileSync(join(carry, "manifest.json"), JSON.stringify(manifest));
    const args = ["--comfyui", join(work, "ComfyUI"), "--carry", carry];
    expect(check(dry(args).report, "fp8 file")?.detail).toContain("by the image build's converter");
    writeFileSync(join(carry, "node.xz"), "changed");
    expect(check(dry(args).report, "fp8 file")?.detail).toContain(
      "converted on the GPU with torch",
    );
  });
});

describe("fp8-convert.ts (the image build's converter on one file, for fp8_load.py)", () => {
  const tsx = join(__dirname, "..", "..", "node_modules", ".bin", "tsx");
  const run = (args: string[]) =>
    spawnSync(process.execPath, [tsx, join(__dirname, "fp8-convert.ts"), ...args], {
      encoding: "utf8",
      timeout: 60_000,
    });

  it("converts a safetensors file, keeping the patch embedding, and prints the result", () => {
    // F16 [1.0, -2.5, 448, 0.1] and an F32 patch embedding ComfyUI keeps in float32.
    const header = JSON.stringify({
      "blocks.0.ffn.0.weight": { dtype: "F16", shape: [2, 2], data_offsets: [0, 8] },
      "patch_embedding.weight": { dtype: "F32", shape: [2], data_offsets: [8, 16] },
    }).padEnd(136, " ");
    const data = Buffer.alloc(16);
    [0x3c00, 0xc100, 0x5f00, 0x2e66].forEach((h, i) => {
      data.writeUInt16LE(h, 2 * i);
    });
    data.writeFloatLE(3, 8);
    data.writeFloatLE(4, 12);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const src = join(work, "small.safetensors");
    const dst = join(work, "small-fp8.safetensors");
    writeFileSync(src, Buffer.concat([len, Buffer.from(header), data]));

    const r = run([src, dst]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      converted: 1,
      kept: ["patch_embedding.weight"],
      overflow: [],
    });
    const out = readFileSync(dst);
    const n = Number(out.readBigUInt64LE(0));
    const tensors = JSON.parse(out.subarray(8, 8 + n).toString());
    const at = 8 + n + tensors["blocks.0.ffn.0.weight"].data_offsets[0];
    expect(tensors["blocks.0.ffn.0.weight"].dtype).toBe("F8_E4M3");
    // e4m3fn: 1.0 = 0x38, -2.5 = 0xc2, 448 = 0x7e (the largest), fp16 0.1 rounds to 0.1015625 = 0x1d.
    expect([...out.subarray(at, at + 4)]).toEqual([0x38, 0xc2, 0x7e, 0x1d]);
  });

  it("names its usage when an argument is missing", () => {
    const r = run([join(work, "only-one.safetensors")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("usage: fp8-convert SRC.safetensors DST.safetensors");
  });
});
