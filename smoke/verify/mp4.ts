/**
 * Reads an MP4's structure with mp4box (GPAC's parser): brands, the first video track's sample
 * entry, dimensions, every sample (moov tables and moof/trun fragments alike), durations, and
 * the pixel format from the decoder configuration record. Anything that stops us from trusting
 * those facts (empty, not ISO-BMFF, no moov, data past the end of the file) is an
 * UnreadableVideoError, which names the file and what is wrong.
 */
import { readFile } from "node:fs/promises";
import { createFile, type Movie, MP4BoxBuffer, VisualSampleEntry } from "mp4box";
import { pixFmtFromAvcC, pixFmtName } from "./pixfmt";

/** The file cannot be judged at all: unreadable, empty, truncated, or not an MP4 (exit 2). */
export class UnreadableVideoError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = "UnreadableVideoError";
  }
}

export interface VideoTrackFacts {
  /** Sample entry four-character code: avc1, avc3, hev1, hvc1, … */
  sampleEntry: string;
  /** RFC 6381 codecs string, e.g. avc1.640016. */
  codec: string;
  width: number;
  height: number;
  frames: number;
  /** Frames per second from the median sample duration (the nominal rate, robust to one odd frame). */
  fps: number | null;
  /** Presentation duration in seconds (movie header or fragment duration), else the samples' sum. */
  durationS: number | null;
  /** From avcC/hvcC; null when the record does not say (see {@link pixFmtFromAvcC}). */
  pixFmt: string | null;
}

export interface Mp4Facts {
  /** Major brand first, then the compatible brands, as in ftyp. Empty without ftyp. */
  brands: string[];
  /** The first video track, or null when the file has none. */
  video: VideoTrackFacts | null;
}

interface Extent {
  type: string;
  start?: number;
  size: number;
}

/**
 * Why the parsed structure does not fit in the file, or null when it does: a top-level box
 * that runs past the end, bytes after the last complete box that mp4box could not parse
 * (an incomplete box header), or sample data beyond the end.
 */
export function findTruncation(
  fileSize: number,
  boxes: Extent[],
  samples: { offset: number; size: number }[],
): string | null {
  let end = 0;
  for (const b of boxes) {
    const start = b.start ?? end;
    // size 0 means "to the end of the file" (ISO/IEC 14496-12 §4.2).
    const boxEnd = b.size === 0 ? fileSize : start + b.size;
    if (boxEnd > fileSize) {
      return `truncated: the '${b.type}' box at byte ${start} declares ${b.size} bytes, but the file ends after ${fileSize - start}`;
    }
    end = Math.max(end, boxEnd);
  }
  if (end < fileSize) {
    return `truncated: ${fileSize - end} bytes after the last complete box (byte ${end}) do not form a whole box`;
  }
  for (const s of samples) {
    if (s.offset + s.size > fileSize) {
      return `truncated: sample data runs to byte ${s.offset + s.size}, but the file has ${fileSize} bytes`;
    }
  }
  return null;
}

/** A hint for the most likely wrong formats, from their magic numbers. */
function sniffOtherFormat(head: Uint8Array): string | null {
  const hex = Buffer.from(head.subarray(0, 4)).toString("hex");
  if (hex === "1a45dfa3")
    return "it is WebM/Matroska (EBML header); expected VHS format video/h264-mp4";
  if (Buffer.from(head.subarray(0, 6)).toString("latin1").startsWith("GIF8")) return "it is a GIF";
  if (hex === "89504e47") return "it is a PNG image";
  return null;
}

/**
 * Runs mp4box over the whole file. mp4box reports some problems only through console.error
 * (its log level cannot go below "error"), so they are collected here for our message
 * instead of leaking to the user's terminal. Parsing is synchronous, so nothing else logs
 * while the console is borrowed.
 */
function parse(data: Buffer) {
  const iso = createFile();
  const messages: string[] = [];
  let movie: Movie | null = null;
  iso.onError = (module, message) => messages.push(`${module}: ${message}`);
  iso.onReady = (info) => {
    movie = info;
  };
  const saved = console.error;
  // Drop mp4box's "[h:mm:ss.mmm]" elapsed-time prefix; keep "[Module] message".
  console.error = (...args: unknown[]) => messages.push(args.slice(1).map(String).join(" "));
  try {
    const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    iso.appendBuffer(MP4BoxBuffer.fromArrayBuffer(ab, 0), true);
    iso.flush();
  } catch (err) {
    messages.push(err instanceof Error ? err.message : String(err));
  } finally {
    console.error = saved;
  }
  // Box types from garbage bytes can hold control characters; keep the terminal clean.
  const clean = messages.map((m) => m.replace(/\p{Cc}/gu, "?"));
  return { iso, movie: movie as Movie | null, messages: [...new Set(clean)] };
}

/** The pixel format the decoder configuration record (avcC or hvcC) declares, if it does. */
function configRecordPixFmt(entry: VisualSampleEntry): string | null {
  if (entry.avcC) return pixFmtFromAvcC(entry.avcC.AVCProfileIndication, entry.avcC.ext);
  if (entry.hvcC) {
    return pixFmtName(entry.hvcC.chroma_format_idc, entry.hvcC.bit_depth_luma_minus8 + 8);
  }
  return null;
}

export async function readMp4(file: string): Promise<Mp4Facts> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new UnreadableVideoError(file, `cannot read the file (${(err as Error).message})`);
  }
  if (data.length === 0) {
    throw new UnreadableVideoError(
      file,
      "the file is empty (0 bytes): nothing was rendered or downloaded",
    );
  }
  const { iso, movie, messages } = parse(data);
  const detail = messages.length ? ` (mp4box: ${messages.join("; ")})` : "";
  if (!movie) {
    const other = sniffOtherFormat(data);
    if (other) throw new UnreadableVideoError(file, `not an MP4: ${other}`);
    if (iso.boxes.length === 0) {
      throw new UnreadableVideoError(
        file,
        `not an MP4: no ISO base media box at the start${detail}`,
      );
    }
    const cut = findTruncation(data.length, iso.boxes, []);
    const noMoov = "no 'moov' box (the MP4's index) was found";
    throw new UnreadableVideoError(
      file,
      cut ? `${cut}; ${noMoov}${detail}` : `${noMoov}: not a finished MP4${detail}`,
    );
  }
  const info: Movie = movie;
  const track = info.videoTracks[0] ?? null;
  const trak = track ? iso.getTrackById(track.id) : null;
  const samples = trak?.samples ?? [];
  const cut = findTruncation(data.length, iso.boxes, samples);
  if (cut) throw new UnreadableVideoError(file, cut);
  const entry = trak?.mdia.minf.stbl.stsd.entries[0];
  if (!track || !(entry instanceof VisualSampleEntry)) {
    return { brands: info.brands, video: null };
  }
  const durations = samples.map((s) => s.duration).sort((a, b) => a - b);
  const median = durations[durations.length >> 1];
  const mediaSeconds = samples.reduce((t, s) => t + s.duration, 0) / track.timescale;
  const fragmentSeconds = info.fragment_duration
    ? info.fragment_duration.num / info.fragment_duration.den
    : 0;
  const movieSeconds = info.timescale ? info.duration / info.timescale : 0;
  const durationS = movieSeconds || fragmentSeconds || mediaSeconds || null;
  return {
    brands: info.brands,
    video: {
      sampleEntry: entry.type,
      codec: track.codec,
      width: entry.width,
      height: entry.height,
      frames: samples.length,
      fps: median ? track.timescale / median : null,
      durationS,
      pixFmt: configRecordPixFmt(entry),
    },
  };
}
