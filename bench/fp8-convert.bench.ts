/**
 * Throughput and memory of the FP8 converter (`vace models fp8`, cli/models/convert.ts) on a
 * random fp16 checkpoint of FP8_BENCH_MIB (default 512) MiB, against a same-run baseline that reads
 * the same file and writes half its bytes with a sha256 (the converter's unavoidable I/O and hash,
 * without the per-element cast). Extrapolates to the real 4.31 GB Wan VACE file.
 *
 *   npm run bench fp8-convert
 */
import { createHash } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertFile } from "../cli/models/convert";
import { formatBytes } from "../cli/models/progress";
import { prng, randomTensorBytes, type Spec, writeSafetensors } from "../test/fixtures/safetensors";
import { measure } from "./measure";

const MIB = Number(process.env.FP8_BENCH_MIB ?? 512);
const REAL_BYTES = 4_309_519_800;

/** Reads `src` in 16 MiB chunks and writes half of each chunk, hashing what it writes. */
async function halfCopy(src: string, dst: string): Promise<void> {
  const input = await open(src, "r");
  const output = await open(dst, "w");
  const hash = createHash("sha256");
  const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
  try {
    for (let pos = 0; ; ) {
      const { bytesRead } = await input.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const half = chunk.subarray(0, bytesRead >> 1);
      hash.update(half);
      await output.write(half);
    }
    hash.digest("hex");
  } finally {
    await input.close();
    await output.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "vace-fp8-bench-"));
  try {
    // 1536-wide blocks like Wan 1.3B's; the tensor count follows from the size asked for.
    const next = prng(1);
    const specs: Spec[] = [];
    const data = new Map<string, Buffer>();
    const perTensor = 1536 * 1536 * 2;
    for (let i = 0; i * perTensor < MIB * 1024 * 1024; i++) {
      const spec: Spec = { name: `blocks.${i}.ffn.0.weight`, dtype: "F16", shape: [1536, 1536] };
      specs.push(spec);
      data.set(spec.name, randomTensorBytes(spec, next));
    }
    const src = join(dir, "src.safetensors");
    await writeFile(src, writeSafetensors(specs, data));
    data.clear();
    const bytes = specs.length * perTensor;
    // Alternate three runs of each (page cache and disk writeback affect both alike); medians.
    const baseRuns: Awaited<ReturnType<typeof measure>>[] = [];
    const convRuns: Awaited<ReturnType<typeof measure>>[] = [];
    for (let i = 0; i < 3; i++) {
      baseRuns.push(await measure(() => halfCopy(src, join(dir, "half"))));
      convRuns.push(await measure(() => convertFile(src, join(dir, "fp8.safetensors"))));
    }
    const median = (runs: typeof baseRuns) =>
      [...runs].sort((a, b) => a.seconds - b.seconds)[1] as (typeof runs)[number];
    const base = median(baseRuns);
    const conv = median(convRuns);
    const rate = (s: number) => `${formatBytes(bytes / s)}/s`;
    process.stdout.write(
      `${formatBytes(bytes)} fp16 in ${specs.length} tensors\n` +
        `baseline (median of 3):              ${base.seconds.toFixed(2)} s, ${rate(base.seconds)}\n` +
        `convert to fp8 (median of 3):        ${conv.seconds.toFixed(2)} s, ${rate(conv.seconds)}, ` +
        `peak RSS ${formatBytes(conv.peak)}\n` +
        `ratio convert / baseline: ${(conv.seconds / base.seconds).toFixed(2)}x\n` +
        `extrapolated to the 4.31 GB Wan VACE checkpoint: ${((conv.seconds * REAL_BYTES) / bytes).toFixed(1)} s\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
