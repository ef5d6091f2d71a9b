/**
 * The safetensors container (https://github.com/huggingface/safetensors, "Format"): an 8-byte
 * little-endian header length N, N bytes of JSON mapping each tensor name to {dtype, shape,
 * data_offsets: [begin, end)} relative to the byte after the header, an optional `__metadata__`
 * object of strings, then the tensor bytes. Reading validates every entry so a truncated or
 * inconsistent file fails with the tensor named, never halfway through a conversion.
 */
import type { FileHandle } from "node:fs/promises";

/** Bytes per element of the dtypes safetensors defines. */
export const DTYPE_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  start: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In the order of their bytes in the file. */
  tensors: TensorInfo[];
  /** First byte of tensor data (8 + header length). */
  dataStart: number;
}

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** safetensors' own header limit (100 MB): anything larger is not a real header. */
const MAX_HEADER = 100_000_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describeTensor(
  name: string,
  raw: unknown,
  dataStart: number,
  fileSize: number,
): TensorInfo {
  const bad = (why: string) => new SafetensorsError(`tensor ${name}: ${why}`);
  if (!isRecord(raw)) throw bad("entry is not an object");
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== "string" || !(dtype in DTYPE_SIZE))
    throw bad(`unknown dtype ${String(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad("shape is not a list of non-negative integers");
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw bad("data_offsets is not [begin, end]");
  }
  const [begin, end] = offsets as [number, number];
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  if (elements * (DTYPE_SIZE[dtype] as number) !== end - begin) {
    throw bad(`${end - begin} bytes for shape [${shape.join(", ")}] of ${dtype}`);
  }
  if (dataStart + end > fileSize)
    throw bad(`data ends past the end of the file (${fileSize} bytes)`);
  return { name, dtype, shape: shape as number[], start: dataStart + begin, end: dataStart + end };
}

/** Reads and validates the header of an open safetensors file. */
export async function readHeader(file: FileHandle, path: string): Promise<SafetensorsHeader> {
  const { size } = await file.stat();
  const lengthBytes = Buffer.alloc(8);
  if (size < 8 || (await file.read(lengthBytes, 0, 8, 0)).bytesRead !== 8) {
    throw new SafetensorsError(`${path}: too short to be a safetensors file`);
  }
  const length = Number(lengthBytes.readBigUInt64LE(0));
  if (length > MAX_HEADER || 8 + length > size) {
    throw new SafetensorsError(
      `${path}: header length ${length} does not fit the file (${size} bytes)`,
    );
  }
  const json = Buffer.alloc(length);
  await file.read(json, 0, length, 8);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString("utf8"));
  } catch (err) {
    throw new SafetensorsError(`${path}: header is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) throw new SafetensorsError(`${path}: header is not a JSON object`);
  const dataStart = 8 + length;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, raw] of Object.entries(parsed)) {
    if (name === "__metadata__") {
      if (!isRecord(raw) || !Object.values(raw).every((v) => typeof v === "string")) {
        throw new SafetensorsError(`${path}: __metadata__ must map strings to strings`);
      }
      Object.assign(metadata, raw);
      continue;
    }
    try {
      tensors.push(describeTensor(name, raw, dataStart, size));
    } catch (err) {
      throw new SafetensorsError(`${path}: ${(err as Error).message}`);
    }
  }
  tensors.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < tensors.length; i++) {
    const [prev, cur] = [tensors[i - 1] as TensorInfo, tensors[i] as TensorInfo];
    if (cur.start < prev.end) {
      throw new SafetensorsError(`${path}: tensors ${prev.name} and ${cur.name} overlap`);
    }
  }
  return { metadata, tensors, dataStart };
}

export interface OutputTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

/**
 * The header bytes (length prefix included) for tensors laid out back to back in the given order,
 * padded with spaces to a multiple of 8 as safetensors' own writer does, so data starts aligned.
 * JSON key order is the given order, `__metadata__` first: the same input gives the same bytes.
 */
export function encodeHeader(
  metadata: Record<string, string>,
  tensors: readonly OutputTensor[],
): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes] };
    offset += t.bytes;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, " ")]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json]);
}
