/**
 * float → float8_e4m3fn exactly as PyTorch casts it, so weights quantized at image build are the
 * bytes ComfyUI would have produced when it cast the fp16 checkpoint at every load.
 *
 * The rule is a port of c10/util/Float8_e4m3fn.h `fp8e4m3fn_from_fp32_value` (PyTorch 2.x; the
 * image runs 2.8.0). That function is what both CPU and CUDA use for Half/BFloat16 → e4m3fn
 * (aten/src/ATen/native/cuda/Copy.cu `float8_copy_kernel_cuda`: only the *float32* source on CUDA
 * ≥ 13.2 switches to NVIDIA's saturating intrinsic; our source is fp16). Its behaviour:
 * - round to nearest, ties to even mantissa;
 * - no saturation: |x| ≥ 480 (the first value past the largest finite 448), ±Inf and NaN all become
 *   NaN (0x7F, sign kept: 0xFF for negatives). Because of ties-to-even, 464 rounds to 448, while
 *   anything in (464, 480) rounds up onto the NaN encoding too;
 * - inputs below 2^-6 become e4m3fn subnormals (step 2^-9), again to nearest even.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function floatFromBits(bits: number): number {
  u32[0] = bits;
  return f32[0] as number;
}

function bitsFromFloat(value: number): number {
  f32[0] = value;
  return u32[0] as number;
}

/** 480.0f: the first magnitude e4m3fn cannot hold. */
const FP8_MAX = 1087 << 20;
/** 2^14 as float bits: adding it aligns a sub-2^-6 value's mantissa to e4m3fn's subnormal step. */
const DENORM_MASK = 141 << 23;
/** 2^-6, the smallest e4m3fn normal, as float bits. */
const MIN_NORMAL = 121 << 23;

/** e4m3fn bits for the float32 given by its bits (PyTorch's rule; see the file comment). */
export function e4m3fnFromF32Bits(bits: number): number {
  const sign = (bits & 0x80000000) >>> 0;
  let f = (bits ^ sign) >>> 0;
  let result: number;
  if (f >= FP8_MAX) {
    result = 0x7f;
  } else if (f < MIN_NORMAL) {
    // A float32 addition: in doubles and then rounded once to float32. Doubles carry 53 ≥ 2·24 + 2
    // bits, so that double rounding equals a single float32 rounding (Figueroa, 1995).
    f = bitsFromFloat(floatFromBits(f) + floatFromBits(DENORM_MASK));
    result = (f - DENORM_MASK) & 0xff;
  } else {
    const mantissaOdd = (f >>> 20) & 1;
    // Re-bias the exponent (127 → 7) and add just under half an e4m3fn step, plus one more when the
    // kept mantissa is odd: the carry then rounds to nearest, ties to even.
    f = (f + ((7 - 127) << 23) + 0x7ffff + mantissaOdd) >>> 0;
    result = (f >>> 20) & 0xff;
  }
  return result | (sign >>> 24);
}

/** float32 bits of an IEEE binary16 value (exact: every half is a float). */
export function f32BitsFromF16(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  const magnitude =
    exponent === 0 ? mantissa * 2 ** -24 : (1 + mantissa / 1024) * 2 ** (exponent - 15);
  return (sign | bitsFromFloat(magnitude)) >>> 0;
}

/** float32 bits of a bfloat16 value (its upper half). */
export function f32BitsFromBf16(b: number): number {
  return (b << 16) >>> 0;
}

/** The value of an e4m3fn byte (NaN for 0x7F/0xFF; e4m3fn has no infinities). */
export function e4m3fnValue(byte: number): number {
  const sign = byte & 0x80 ? -1 : 1;
  const exponent = (byte >>> 3) & 0xf;
  const mantissa = byte & 0x7;
  if (exponent === 0xf && mantissa === 0x7) return Number.NaN;
  return exponent === 0
    ? sign * mantissa * 2 ** -9
    : sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
}

export function isE4m3fnNaN(byte: number): boolean {
  return (byte & 0x7f) === 0x7f;
}

let f16Table: Uint8Array | undefined;
let bf16Table: Uint8Array | undefined;

function table16(toF32: (x: number) => number): Uint8Array {
  const out = new Uint8Array(65536);
  for (let x = 0; x < 65536; x++) out[x] = e4m3fnFromF32Bits(toF32(x));
  return out;
}

/** e4m3fn byte for every fp16 bit pattern: a 16-bit source converts by table lookup. */
export function f16ToE4m3fnTable(): Uint8Array {
  f16Table ??= table16(f32BitsFromF16);
  return f16Table;
}

/** e4m3fn byte for every bfloat16 bit pattern. */
export function bf16ToE4m3fnTable(): Uint8Array {
  bf16Table ??= table16(f32BitsFromBf16);
  return bf16Table;
}
