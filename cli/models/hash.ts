import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";

const READ_CHUNK = 4 * 1024 * 1024;

/**
 * Feeds the first `length` bytes of `path` (the whole file when omitted) into `hash`, reporting
 * progress; used both to verify a file already in place and to resume a `.partial` download.
 */
export async function hashInto(
  path: string,
  hash: Hash,
  length?: number,
  onBytes?: (done: number) => void,
): Promise<void> {
  if (length === 0) return;
  const stream = createReadStream(path, {
    highWaterMark: READ_CHUNK,
    ...(length === undefined ? {} : { end: length - 1 }),
  });
  let done = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    done += chunk.length;
    onBytes?.(done);
  }
}

export async function sha256File(path: string, onBytes?: (done: number) => void): Promise<string> {
  const hash = createHash("sha256");
  await hashInto(path, hash, undefined, onBytes);
  return hash.digest("hex");
}
