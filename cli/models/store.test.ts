/**
 * `vace models fp8` as the image build runs it: after `models fetch`, on a random checkpoint made
 * by the test. Nothing is lost on a failure; pinned values are checked; an unpinned result says
 * exactly what to record.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  prng,
  randomTensorBytes,
  type Spec,
  writeSafetensors,
} from "../../test/fixtures/safetensors";
import { registerModels } from "../models";
import { convertFile, isConverted } from "./convert";

const SPECS: Spec[] = [
  { name: "patch_embedding.weight", dtype: "F16", shape: [4, 2, 1, 2, 2] },
  { name: "blocks.0.ffn.0.weight", dtype: "F16", shape: [32, 16] },
];

let dir: string;
let source: Buffer;
let expected: { size: number; sha256: string };
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function manifest(stored: Record<string, unknown>) {
  return {
    models: [
      {
        name: "wan.safetensors",
        folder: "diffusion_models",
        size: source.length,
        sha256: sha(source),
        sources: ["https://example.org/wan"],
        provenance: "made by the test",
        stored: { dtype: "F8_E4M3", weightDtype: "fp8_e4m3fn_fast", provenance: "test", ...stored },
      },
      {
        name: "vae.safetensors",
        folder: "vae",
        size: 1,
        sha256: "a".repeat(64),
        sources: ["https://example.org/vae"],
        provenance: "no stored form",
      },
    ],
  };
}

async function run(models: string, stored: Record<string, unknown>) {
  const file = join(dir, `m-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(manifest(stored)));
  const program = new Command("vace").exitOverride();
  registerModels(program);
  const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    await program.parseAsync([
      "node",
      "vace",
      "models",
      "fp8",
      "--manifest",
      file,
      "--dir",
      models,
    ]);
    return { code: 0, stdout: out.mock.calls.map((c) => String(c[0])).join(""), message: "" };
  } catch (err) {
    const e = err as { exitCode?: number; message: string };
    return {
      code: e.exitCode ?? -1,
      stdout: out.mock.calls.map((c) => String(c[0])).join(""),
      message: e.message,
    };
  } finally {
    out.mockRestore();
  }
}

async function fetched(name: string, bytes: Buffer = source) {
  const models = join(dir, name);
  await mkdir(join(models, "diffusion_models"), { recursive: true });
  await writeFile(join(models, "diffusion_models", "wan.safetensors"), bytes);
  return models;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vace-store-"));
  const next = prng(7);
  source = writeSafetensors(SPECS, new Map(SPECS.map((s) => [s.name, randomTensorBytes(s, next)])));
  await writeFile(join(dir, "src"), source);
  expected = await convertFile(join(dir, "src"), join(dir, "reference"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("vace models fp8", () => {
  it("unpinned: converts in place, prints the size and sha256 to record; a rerun finds it present", async () => {
    const models = await fetched("unpinned");
    const first = await run(models, {});
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      `ok diffusion_models/wan.safetensors F8_E4M3 (converted) size ${expected.size} sha256 ${expected.sha256} ` +
        `(NOT PINNED: record stored.size ${expected.size} and stored.sha256 ${expected.sha256} for wan.safetensors ` +
        "in docker/models.json; metadata key wan_vace.fp8)\n",
    );
    const path = join(models, "diffusion_models", "wan.safetensors");
    expect(sha(await readFile(path))).toBe(expected.sha256);
    expect(await readdir(join(models, "diffusion_models"))).toEqual(["wan.safetensors"]);
    const again = await run(models, { size: expected.size, sha256: expected.sha256 });
    expect(again.stdout).toContain("(present)");
    expect(again.stdout).toContain("(matches docker/models.json)");
  });

  it("pinned and wrong: exit 1 naming expected and actual; the verified download stays, no partial left", async () => {
    const models = await fetched("wrong");
    const r = await run(models, { size: expected.size, sha256: "0".repeat(64) });
    expect(r.code).toBe(1);
    expect(r.message).toContain(
      `(sha256 expected ${"0".repeat(64)}, actual ${expected.sha256}); the download was kept`,
    );
    const path = join(models, "diffusion_models", "wan.safetensors");
    expect((await readFile(path)).equals(source)).toBe(true);
    expect(await isConverted(path)).toBe(false);
    expect(await readdir(join(models, "diffusion_models"))).toEqual(["wan.safetensors"]);
  });

  it("refuses to convert anything but the manifest's verified download, or nothing at all", async () => {
    const corrupt = Buffer.from(source);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 1, corrupt.length - 1);
    const bad = await run(await fetched("corrupt", corrupt), {});
    expect(bad.code).toBe(1);
    expect(bad.message).toContain(
      `not the manifest's download (expected size ${source.length} and sha256 ${sha(source)}`,
    );
    expect(bad.message).toContain("run `vace models fetch` first");
    const missing = await run(join(dir, "empty"), {});
    expect(missing.code).toBe(1);
    expect(missing.message).toContain(
      "diffusion_models/wan.safetensors: missing; run `vace models fetch` first",
    );
  });

  it("refuses to store values that torch would turn into NaN", async () => {
    const huge: Spec[] = [{ name: "blocks.0.ffn.2.weight", dtype: "F16", shape: [2] }];
    const bytes = Buffer.alloc(4);
    bytes.writeUInt16LE(0x5f40, 0); // 464: ties down to 448
    bytes.writeUInt16LE(0x6000, 2); // 512: NaN
    const file = writeSafetensors(huge, new Map([["blocks.0.ffn.2.weight", bytes]]));
    const models = await fetched("huge", file);
    const saved = source;
    source = file;
    try {
      const r = await run(models, {});
      expect(r.code).toBe(1);
      expect(r.message).toContain(
        "would become NaN, as ComfyUI's load-time cast makes them: blocks.0.ffn.2.weight (1)",
      );
      expect(
        (await readFile(join(models, "diffusion_models", "wan.safetensors"))).equals(file),
      ).toBe(true);
    } finally {
      source = saved;
    }
  });
});
