/**
 * A reference image made in-process when the user gives none: a small RGB PNG encoded with node:zlib,
 * so the smoke needs no image library. It has structure (a gradient and a disc) rather than a flat
 * colour, so VACE has something to keep consistent.
 */
import { crc32, deflateSync } from "node:zlib";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Pure: a PNG (8-bit RGB, no interlace) of `rgb`, which holds width × height × 3 bytes. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`PNG size must be positive integers, got ${width}×${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new Error(
      `PNG data must be ${width * height * 3} bytes for ${width}×${height} RGB, got ${rgb.length}`,
    );
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // colour type: truecolour
  // bytes 10–12: compression, filter, interlace methods, all 0
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    // Each scanline starts with its filter type; 0 means none.
    raw[y * (stride + 1)] = 0;
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return Buffer.concat([
    SIGNATURE,
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Pure: the default reference image, a size × size gradient with a centred disc. */
export function referenceImage(size = 256): Buffer {
  const rgb = new Uint8Array(size * size * 3);
  const c = size / 2;
  const r2 = (size / 4) ** 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      const inDisc = (x - c) ** 2 + (y - c) ** 2 < r2;
      rgb[i] = inDisc ? 230 : Math.round((x / size) * 255);
      rgb[i + 1] = inDisc ? 60 : Math.round((y / size) * 255);
      rgb[i + 2] = inDisc ? 40 : 128;
    }
  }
  return encodePng(size, size, rgb);
}
