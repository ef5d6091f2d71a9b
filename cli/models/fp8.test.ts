/**
 * The e4m3fn cast against an independent statement of the rule PyTorch implements
 * (c10/util/Float8_e4m3fn.h): round to the nearest e4m3fn value, ties to the even encoding, and
 * NaN instead of saturation, where 480 (the encoding 0x7F would have if it were not NaN) is the
 * first value past the range, so anything nearer to 480 than to 448 overflows.
 */
import { describe, expect, it } from "vitest";
import {
  bf16ToE4m3fnTable,
  e4m3fnFromF32Bits,
  e4m3fnValue,
  f16ToE4m3fnTable,
  f32BitsFromBf16,
  f32BitsFromF16,
} from "./fp8";

/** The magnitude of each non-negative encoding 0x00..0x7F, with 0x7F standing for 480. */
const GRID = Array.from({ length: 128 }, (_, b) => (b === 0x7f ? 480 : e4m3fnValue(b)));

/** The reference rule, on the exact real value of the input. */
function reference(x: number): number {
  if (Number.isNaN(x)) return 0x7f; // sign handled by the caller's comparison below
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a >= 480) return 0x7f | sign;
  let lo = 0;
  while ((GRID[lo + 1] as number) <= a) lo++;
  const below = GRID[lo] as number;
  if (below === a) return lo | sign;
  const above = GRID[lo + 1] as number;
  const byte =
    a - below < above - a ? lo : a - below > above - a ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
  return byte | sign;
}

const view = new DataView(new ArrayBuffer(4));
function floatOf(bits: number): number {
  view.setUint32(0, bits);
  return view.getFloat32(0);
}
function bitsOf(x: number): number {
  view.setFloat32(0, x);
  return view.getUint32(0);
}

function expectTableMatches(table: Uint8Array, toF32: (x: number) => number) {
  const wrong: string[] = [];
  for (let x = 0; x < 65536; x++) {
    const value = floatOf(toF32(x));
    let want = reference(value);
    if (Number.isNaN(value)) want = 0x7f | (x & 0x8000 ? 0x80 : 0);
    if (table[x] !== want) wrong.push(`0x${x.toString(16)} (${value}): ${table[x]} != ${want}`);
  }
  expect(wrong.slice(0, 5)).toEqual([]);
}

describe("e4m3fn cast (PyTorch's rule)", () => {
  it("every fp16 bit pattern converts by the reference rule", () => {
    expectTableMatches(f16ToE4m3fnTable(), f32BitsFromF16);
  });

  it("every bfloat16 bit pattern converts by the reference rule", () => {
    expectTableMatches(bf16ToE4m3fnTable(), f32BitsFromBf16);
  });

  it("fp16 decoding is exact", () => {
    expect(floatOf(f32BitsFromF16(0x3c00))).toBe(1);
    expect(floatOf(f32BitsFromF16(0x0001))).toBe(2 ** -24);
    expect(floatOf(f32BitsFromF16(0x7bff))).toBe(65504);
    expect(floatOf(f32BitsFromF16(0xfc00))).toBe(Number.NEGATIVE_INFINITY);
    expect(f32BitsFromF16(0x8000)).toBe(0x80000000);
  });

  it("overflow is NaN, not saturation: 464 ties down to 448, anything above becomes NaN", () => {
    const cast = (x: number) => e4m3fnFromF32Bits(bitsOf(x));
    expect(cast(448)).toBe(0x7e);
    expect(cast(464)).toBe(0x7e);
    expect(cast(floatOf(bitsOf(464) + 1))).toBe(0x7f);
    expect(cast(479.99)).toBe(0x7f);
    expect(cast(480)).toBe(0x7f);
    expect(cast(-1e6)).toBe(0xff);
    expect(cast(Number.POSITIVE_INFINITY)).toBe(0x7f);
    expect(cast(Number.NaN)).toBe(0x7f);
    expect(cast(-0)).toBe(0x80);
  });

  it("ties go to the even encoding, in normals and subnormals", () => {
    const cast = (x: number) => e4m3fnFromF32Bits(bitsOf(x));
    expect(cast(1 + 1 / 16)).toBe(0x38); // 1 (0x38) and 1.125 (0x39): even wins
    expect(cast(1 + 3 / 16)).toBe(0x3a); // 1.125 (0x39) and 1.25 (0x3a)
    expect(cast(2 ** -10)).toBe(0x00); // half the smallest subnormal 2^-9: ties to 0
    expect(cast(3 * 2 ** -10)).toBe(0x02); // between 2^-9 (0x01) and 2^-8 (0x02)
    expect(cast(2 ** -6 - 2 ** -11)).toBe(0x08); // rounds up into the smallest normal
  });

  it("random float32 values across the whole range follow the reference rule", () => {
    let seed = 0x2545f491;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const wrong: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      // Exponents 2^-20 .. 2^10 cover zero-ward underflow, subnormals, normals and overflow.
      const bits = ((next() & 0x807fffff) | ((107 + (next() % 31)) << 23)) >>> 0;
      const x = floatOf(bits);
      const got = e4m3fnFromF32Bits(bits);
      if (got !== reference(x)) wrong.push(`${x}: ${got} != ${reference(x)}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});
