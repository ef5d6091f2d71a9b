/**
 * Stores the diffusion model in float8_e4m3fn on disk, converted once at image build, instead of
 * shipping fp16 and letting ComfyUI cast it at every load (UNETLoader weight_dtype fp8_e4m3fn*).
 *
 * Which tensors stay in the source precision follows ComfyUI at the commit the image pins
 * (637221995f7424a561bd825de3e61ea117dfe1e3, "ComfyUI version 0.3.64"):
 * - UNETLoader (nodes.py) passes dtype=float8_e4m3fn; load_diffusion_model_state_dict (comfy/sd.py)
 *   builds the model with that dtype and load_model_weights (comfy/model_base.py) copies the file's
 *   tensors in with load_state_dict, i.e. torch's cast (fp8.ts). WAN21 has no
 *   process_unet_state_dict, so names and tensors reach load_state_dict unchanged.
 * - comfy/ldm/wan/model.py creates every Linear, norm, modulation and embedding of WanModel and
 *   VaceWanModel with the weight dtype, except two convolutions made with dtype=torch.float32:
 *   WanModel.patch_embedding and VaceWanModel.vace_patch_embedding. Their fp16 values are upcast
 *   exactly at load, so they must stay fp16 here too: an fp8 copy would lose bits ComfyUI keeps.
 * Everything else gets exactly the bytes ComfyUI's load-time cast produced, so the model in GPU
 * memory is bit-identical either way; only the file (and the image) is about half the size.
 */
import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { bf16ToE4m3fnTable, e4m3fnFromF32Bits, f16ToE4m3fnTable, isE4m3fnNaN } from "./fp8";
import {
  DTYPE_SIZE,
  encodeHeader,
  type OutputTensor,
  readHeader,
  SafetensorsError,
  type SafetensorsHeader,
  type TensorInfo,
} from "./safetensors";

export const FP8_DTYPE = "F8_E4M3";

/** Modules ComfyUI builds in float32 whatever weight_dtype says (see the file comment). */
export const KEPT_MODULES: readonly string[] = ["patch_embedding", "vace_patch_embedding"];

/** The prefix a full checkpoint puts before the diffusion model (comfy/model_detection.py). */
const CHECKPOINT_PREFIX = "model.diffusion_model.";

/** Written into the output's `__metadata__`; also how an already converted file is recognised. */
export const CONVERTER_KEY = "wan_vace.fp8";
export const CONVERTER_VALUE =
  `float8_e4m3fn, PyTorch rounding (nearest-even, NaN past 464), by vace models fp8 v1; ` +
  `kept in source dtype: ${KEPT_MODULES.map((m) => `${m}.*`).join(", ")}`;

export function keepsSourcePrecision(name: string): boolean {
  const local = name.startsWith(CHECKPOINT_PREFIX) ? name.slice(CHECKPOINT_PREFIX.length) : name;
  return KEPT_MODULES.includes(local.split(".")[0] as string);
}

/** How one source element type becomes e4m3fn: chunk in, bytes out, and finite inputs that became NaN. */
type ChunkConverter = (src: Buffer, length: number, out: Uint8Array) => number;

function lookup16(table: Uint8Array, exponentMask: number, exponentAll: number): ChunkConverter {
  // Little-endian 16-bit values; the high byte carries the exponent bits tested for finiteness.
  return (src, length, out) => {
    let overflowed = 0;
    for (let i = 0, j = 0; i < length; i += 2, j++) {
      const hi = src[i + 1] as number;
      const byte = table[(src[i] as number) | (hi << 8)] as number;
      out[j] = byte;
      if ((byte & 0x7f) === 0x7f && (hi & exponentMask) !== exponentAll) overflowed++;
    }
    return overflowed;
  };
}

const fromF32: ChunkConverter = (src, length, out) => {
  let overflowed = 0;
  for (let i = 0, j = 0; i < length; i += 4, j++) {
    const bits = src.readUInt32LE(i);
    const byte = e4m3fnFromF32Bits(bits);
    out[j] = byte;
    if (isE4m3fnNaN(byte) && (bits & 0x7f800000) !== 0x7f800000) overflowed++;
  }
  return overflowed;
};

function converterFor(dtype: string): ChunkConverter | undefined {
  switch (dtype) {
    case "F16":
      return lookup16(f16ToE4m3fnTable(), 0x7c, 0x7c);
    case "BF16":
      return bf16Converter();
    case "F32":
      return fromF32;
    default:
      return undefined;
  }
}

/** bfloat16 is Inf/NaN when its exponent (bits 14..7: the high byte's low 7 bits and the low byte's top bit) is all ones. */
function bf16Converter(): ChunkConverter {
  const table = bf16ToE4m3fnTable();
  return (src, length, out) => {
    let overflowed = 0;
    for (let i = 0, j = 0; i < length; i += 2, j++) {
      const lo = src[i] as number;
      const hi = src[i + 1] as number;
      const byte = table[lo | (hi << 8)] as number;
      out[j] = byte;
      if ((byte & 0x7f) === 0x7f && !((hi & 0x7f) === 0x7f && lo >= 0x80)) overflowed++;
    }
    return overflowed;
  };
}

export interface PlannedTensor {
  source: TensorInfo;
  /** Undefined: copied byte for byte. */
  convert?: ChunkConverter;
  out: OutputTensor;
}

export interface ConversionPlan {
  tensors: PlannedTensor[];
  metadata: Record<string, string>;
  header: Buffer;
  /** Exact size of the output file. */
  size: number;
}

/**
 * What the output holds, in file order: tensors keeping a 2-, 4- or 8-byte dtype first (largest
 * element first, then source order), the fp8 ones after, so every tensor starts aligned to its own
 * element size as safetensors' writer arranges it. A dtype we cannot cast the way torch does is an
 * error naming the tensor, never a silent copy.
 */
export function planConversion(header: SafetensorsHeader, path: string): ConversionPlan {
  const planned: PlannedTensor[] = header.tensors.map((source) => {
    const elements = source.shape.reduce((a, b) => a * b, 1);
    if (keepsSourcePrecision(source.name) || source.dtype === FP8_DTYPE) {
      return {
        source,
        out: {
          name: source.name,
          dtype: source.dtype,
          shape: source.shape,
          bytes: source.end - source.start,
        },
      };
    }
    const convert = converterFor(source.dtype);
    if (!convert) {
      throw new SafetensorsError(
        `${path}: tensor ${source.name} is ${source.dtype}; only F16, BF16 and F32 weights are converted to ${FP8_DTYPE}`,
      );
    }
    return {
      source,
      convert,
      out: { name: source.name, dtype: FP8_DTYPE, shape: source.shape, bytes: elements },
    };
  });
  const width = (p: PlannedTensor) => DTYPE_SIZE[p.out.dtype] as number;
  const ordered = planned
    .map((p, i) => ({ p, i }))
    .sort((a, b) => width(b.p) - width(a.p) || a.i - b.i)
    .map(({ p }) => p);
  const metadata = { ...header.metadata, [CONVERTER_KEY]: CONVERTER_VALUE };
  const encoded = encodeHeader(
    metadata,
    ordered.map((p) => p.out),
  );
  const size = encoded.length + ordered.reduce((n, p) => n + p.out.bytes, 0);
  return { tensors: ordered, metadata, header: encoded, size };
}

export interface ConversionResult {
  size: number;
  sha256: string;
  converted: number;
  kept: string[];
  /** Tensors with finite values past e4m3fn's range, which torch (and so ComfyUI) turns into NaN. */
  overflow: { name: string; count: number }[];
}

/** Bytes read per step; a multiple of every element size. */
const CHUNK = 16 * 1024 * 1024;

async function writeAll(file: FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

async function readExactly(file: FileHandle, into: Buffer, length: number, position: number) {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(into, done, length - done, position + done);
    if (bytesRead === 0)
      throw new SafetensorsError(`unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

/**
 * Writes the converted file to `dst` (created or truncated) and returns its size and sha256. The
 * caller decides where the bytes may go next (cli/models.ts renames only a verified result).
 */
export async function convertFile(
  src: string,
  dst: string,
  onBytes?: (done: number, total: number) => void,
): Promise<ConversionResult> {
  const input = await open(src, "r");
  try {
    const plan = planConversion(await readHeader(input, src), src);
    const output = await open(dst, "w");
    try {
      const hash = createHash("sha256");
      const emit = async (bytes: Uint8Array) => {
        hash.update(bytes);
        await writeAll(output, bytes);
      };
      await emit(plan.header);
      const chunk = Buffer.allocUnsafe(CHUNK);
      const converted = new Uint8Array(CHUNK);
      const overflow: ConversionResult["overflow"] = [];
      let done = plan.header.length;
      for (const t of plan.tensors) {
        let overflowed = 0;
        for (let pos = t.source.start; pos < t.source.end; pos += CHUNK) {
          const length = Math.min(CHUNK, t.source.end - pos);
          await readExactly(input, chunk, length, pos);
          if (t.convert) {
            overflowed += t.convert(chunk, length, converted);
            await emit(converted.subarray(0, length / (DTYPE_SIZE[t.source.dtype] as number)));
          } else {
            await emit(chunk.subarray(0, length));
          }
          done = Math.min(plan.size, done + length);
          onBytes?.(done, plan.size);
        }
        if (overflowed > 0) overflow.push({ name: t.source.name, count: overflowed });
      }
      const { size } = await output.stat();
      if (size !== plan.size) {
        throw new SafetensorsError(`${dst}: wrote ${size} bytes, planned ${plan.size}`);
      }
      return {
        size,
        sha256: hash.digest("hex"),
        converted: plan.tensors.filter((t) => t.convert).length,
        kept: plan.tensors.filter((t) => !t.convert).map((t) => t.source.name),
        overflow,
      };
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/** True when `path` is already this converter's output (its metadata says so). */
export async function isConverted(path: string): Promise<boolean> {
  const file = await open(path, "r");
  try {
    return (await readHeader(file, path)).metadata[CONVERTER_KEY] === CONVERTER_VALUE;
  } finally {
    await file.close();
  }
}
