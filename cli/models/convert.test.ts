/**
 * The FP8 converter on a small random safetensors file made here, shaped like the Wan VACE
 * checkpoint (the two float32 patch embeddings, fp16 blocks), plus a BF16 and an F32 tensor. It is
 * written and read back by this file's own code, not the converter's.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  prng,
  randomTensorBytes,
  SIZE,
  type Spec,
  writeSafetensors,
} from "../../test/fixtures/safetensors";
import { CONVERTER_KEY, convertFile, isConverted, keepsSourcePrecision } from "./convert";
import { e4m3fnFromF32Bits, f32BitsFromBf16, f32BitsFromF16 } from "./fp8";

function parse(file: Buffer) {
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString()) as Record<string, unknown>;
  const metadata = header.__metadata__ as Record<string, string>;
  delete header.__metadata__;
  const tensors = new Map(
    Object.entries(
      header as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>,
    ).map(([name, t]) => [
      name,
      {
        ...t,
        bytes: file.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]),
        at: 8 + n + t.data_offsets[0],
      },
    ]),
  );
  return { headerLength: n, metadata, tensors };
}

const SPECS: Spec[] = [
  { name: "blocks.0.self_attn.q.weight", dtype: "F16", shape: [64, 48] },
  { name: "patch_embedding.weight", dtype: "F16", shape: [8, 4, 1, 2, 2] },
  { name: "blocks.0.modulation", dtype: "F32", shape: [1, 6, 16] },
  { name: "patch_embedding.bias", dtype: "F16", shape: [8] },
  { name: "head.head.bias", dtype: "BF16", shape: [12] },
  { name: "vace_patch_embedding.weight", dtype: "F16", shape: [8, 6, 1, 2, 2] },
  { name: "vace_blocks.0.after_proj.weight", dtype: "F16", shape: [3] },
  { name: "vace_patch_embedding.bias", dtype: "F16", shape: [8] },
];

let dir: string;
let source: Buffer;
const data = new Map<string, Buffer>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vace-fp8-"));
  const next = prng(20251008);
  for (const s of SPECS) data.set(s.name, randomTensorBytes(s, next));
  // 464.25 (nearer 480 than 448: NaN), -464 (ties down to -448), 2^-10 (half the least subnormal: ties to 0).
  data.set(
    "vace_blocks.0.after_proj.weight",
    Buffer.from(new Uint16Array([0x5f41, 0xdf40, 0x1400]).buffer),
  );
  source = writeSafetensors(SPECS, data);
  await writeFile(join(dir, "src.safetensors"), source);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("convertFile", () => {
  it("is deterministic: two runs give the same bytes, and the sha256 and size it reports", async () => {
    const a = await convertFile(join(dir, "src.safetensors"), join(dir, "a.safetensors"));
    const b = await convertFile(join(dir, "src.safetensors"), join(dir, "b.safetensors"));
    const [fa, fb] = await Promise.all([
      readFile(join(dir, "a.safetensors")),
      readFile(join(dir, "b.safetensors")),
    ]);
    expect(fa.equals(fb)).toBe(true);
    expect(a).toEqual(b);
    expect(a.sha256).toBe(createHash("sha256").update(fa).digest("hex"));
    expect(a.size).toBe(fa.length);
    expect(a.converted).toBe(4);
    expect(a.kept.sort()).toEqual(
      SPECS.filter((s) => /^(vace_)?patch_embedding\./.test(s.name))
        .map((s) => s.name)
        .sort(),
    );
    // 464.25 is nearer 480 than 448: NaN, as torch makes it (464 itself ties down to 448).
    expect(a.overflow).toEqual([{ name: "vace_blocks.0.after_proj.weight", count: 1 }]);
  });

  it("header: F8_E4M3 for every weight but ComfyUI's float32 patch embeddings, which keep their dtype; aligned data", async () => {
    const out = parse(await readFile(join(dir, "a.safetensors")));
    for (const s of SPECS) {
      const t = out.tensors.get(s.name);
      expect(t?.shape).toEqual(s.shape);
      expect(t?.dtype).toBe(keepsSourcePrecision(s.name) ? s.dtype : "F8_E4M3");
      if (keepsSourcePrecision(s.name)) expect((t?.at ?? 1) % SIZE[s.dtype]).toBe(0);
    }
    expect(out.tensors.size).toBe(SPECS.length);
    expect(out.headerLength % 8).toBe(0);
    expect(out.metadata.format).toBe("pt");
    expect(out.metadata[CONVERTER_KEY]).toContain("patch_embedding.*, vace_patch_embedding.*");
  });

  it("untouched tensors are bit-identical; converted ones match the e4m3fn rule element by element", async () => {
    const out = parse(await readFile(join(dir, "a.safetensors")));
    for (const s of SPECS) {
      const got = out.tensors.get(s.name)?.bytes as Buffer;
      const src = data.get(s.name) as Buffer;
      if (keepsSourcePrecision(s.name)) {
        expect(got.equals(src)).toBe(true);
        continue;
      }
      const n = src.length / SIZE[s.dtype];
      expect(got.length).toBe(n);
      const want = Buffer.alloc(n);
      for (let i = 0; i < n; i++) {
        const bits =
          s.dtype === "F32"
            ? src.readUInt32LE(i * 4)
            : s.dtype === "BF16"
              ? f32BitsFromBf16(src.readUInt16LE(i * 2))
              : f32BitsFromF16(src.readUInt16LE(i * 2));
        want[i] = e4m3fnFromF32Bits(bits);
      }
      expect(got.equals(want)).toBe(true);
    }
  });

  it("recognises its own output, and not the source", async () => {
    expect(await isConverted(join(dir, "a.safetensors"))).toBe(true);
    expect(await isConverted(join(dir, "src.safetensors"))).toBe(false);
  });

  it("refuses a dtype it cannot cast like torch, and a truncated file, naming the tensor", async () => {
    const f64 = [{ name: "blocks.1.ffn.0.weight", dtype: "F64", shape: [2] } as Spec];
    await writeFile(
      join(dir, "f64.safetensors"),
      writeSafetensors(f64, new Map([[f64[0]?.name as string, Buffer.alloc(16)]])),
    );
    await expect(convertFile(join(dir, "f64.safetensors"), join(dir, "x"))).rejects.toThrow(
      /tensor blocks\.1\.ffn\.0\.weight is F64; only F16, BF16 and F32 weights are converted/,
    );
    await writeFile(join(dir, "cut.safetensors"), source.subarray(0, source.length - 3));
    await expect(convertFile(join(dir, "cut.safetensors"), join(dir, "x"))).rejects.toThrow(
      /data ends past the end of the file/,
    );
  });
});
