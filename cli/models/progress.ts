/**
 * Progress display for `vace models fetch`. On a terminal one status line is redrawn in place; in
 * CI logs (no TTY) the same status is printed as a plain line every `intervalMs`, so a 10 GB build
 * step shows it is alive without flooding the log. Events (resume, retry, mirror fallback,
 * verified) are always printed as their own lines.
 */
import type { FetchEvent } from "./fetch";

type Phase = "waiting" | "checking" | "downloading" | "done" | "failed";

export interface FileProgress {
  name: string;
  total: number;
  done: number;
  phase: Phase;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(2)} ${UNITS[u]}`;
}

function percent(done: number, total: number): string {
  return `${total > 0 ? Math.floor((done / total) * 100) : 100}%`;
}

/** e.g. `models 1.20 GiB/10.52 GiB 11% 85.3 MiB/s | wan21_vace_vae.safetensors done | ...`. */
export function statusLine(files: readonly FileProgress[], bytesPerSecond: number): string {
  const counted = files.filter((f) => f.phase !== "checking");
  const done = counted.reduce((a, f) => a + f.done, 0);
  const total = counted.reduce((a, f) => a + f.total, 0);
  const head = `models ${formatBytes(done)}/${formatBytes(total)} ${percent(done, total)} ${formatBytes(Math.round(bytesPerSecond))}/s`;
  const parts = files.map((f) => {
    switch (f.phase) {
      case "checking":
        return `${f.name} checking sha256 ${percent(f.done, f.total)}`;
      case "downloading":
        return `${f.name} ${percent(f.done, f.total)}`;
      default:
        return `${f.name} ${f.phase}`;
    }
  });
  return [head, ...parts].join(" | ");
}

/** The line printed for an event, or undefined when it only updates the status. */
export function eventLine(e: FetchEvent): string | undefined {
  switch (e.type) {
    case "present":
      return `${e.name}: already present, sha256 verified`;
    case "replacing":
      return `${e.name}: file in place has sha256 ${e.actual}, not the manifest's; downloading it again`;
    case "download":
      return e.offset > 0
        ? `${e.name}: resuming at ${formatBytes(e.offset)} of ${formatBytes(e.total)} from ${e.url}`
        : `${e.name}: downloading ${formatBytes(e.total)} from ${e.url}`;
    case "retry":
      return `${e.name}: attempt ${e.failure} failed (${e.reason}); retrying in ${(e.delayMs / 1000).toFixed(1)} s`;
    case "source-failed":
      return `${e.name}: giving up on ${e.url}: ${e.reason}`;
    case "discarded":
      return `${e.name}: ${e.reason} over bytes resumed from an earlier download; discarded the .partial, downloading again from byte 0`;
    case "verified":
      return `${e.name}: sha256 verified, in place`;
    case "failed":
      return `${e.name}: FAILED`;
    default:
      return undefined;
  }
}

export interface ProgressSink {
  write(s: string): unknown;
}

export interface ProgressOptions {
  out: ProgressSink;
  /** Redraw one line in place (a terminal) rather than print periodic lines (a log). */
  tty: boolean;
  intervalMs?: number;
  /** Terminal width, to keep the live line on one row. */
  columns?: number;
  now?: () => number;
}

export interface ProgressReporter {
  onEvent(e: FetchEvent): void;
  /** Prints the status now (used by the timer, and by tests). */
  tick(): void;
  stop(): void;
}

export function createProgress(
  names: readonly { name: string; size: number }[],
  opts: ProgressOptions,
): ProgressReporter {
  const now = opts.now ?? Date.now;
  const files = new Map<string, FileProgress>(
    names.map((n) => [n.name, { name: n.name, total: n.size, done: 0, phase: "waiting" }]),
  );
  let live = false;
  let lastTick = now();
  let lastBytes = 0;
  /** Bytes received over the network in this run: the rate ignores files found already present. */
  let transferred = 0;

  const clearLive = () => {
    if (live) opts.out.write("\r\x1b[2K");
    live = false;
  };
  const tick = () => {
    const t = now();
    const bytes = transferred;
    const rate = t > lastTick ? ((bytes - lastBytes) * 1000) / (t - lastTick) : 0;
    lastTick = t;
    lastBytes = bytes;
    const active = [...files.values()].some(
      (f) => f.phase === "downloading" || f.phase === "checking",
    );
    if (!active) return;
    const line = statusLine([...files.values()], Math.max(0, rate));
    if (opts.tty) {
      clearLive();
      const width = opts.columns ?? 120;
      opts.out.write(line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line);
      live = true;
    } else {
      opts.out.write(`${line}\n`);
    }
  };

  const timer = setInterval(tick, opts.intervalMs ?? (opts.tty ? 250 : 15_000));
  timer.unref();

  const onEvent = (e: FetchEvent) => {
    const f = files.get(e.name);
    if (f) {
      switch (e.type) {
        case "hashing":
          // A resumed .partial counts as downloaded bytes; an existing final file is only checked.
          f.phase = e.what === "existing" ? "checking" : "downloading";
          f.done = e.done;
          if (e.what === "existing") f.total = e.total;
          break;
        case "replacing":
          f.phase = "downloading";
          f.done = 0;
          break;
        case "download":
          f.phase = "downloading";
          f.done = e.offset;
          f.total = e.total;
          break;
        case "bytes":
          transferred += Math.max(0, e.done - f.done);
          f.phase = "downloading";
          f.done = e.done;
          break;
        case "present":
        case "verified":
          f.phase = "done";
          f.done = f.total;
          break;
        case "failed":
          f.phase = "failed";
          break;
        default:
          break;
      }
    }
    const line = eventLine(e);
    if (line) {
      clearLive();
      opts.out.write(`${line}\n`);
    }
  };

  return {
    onEvent,
    tick,
    stop() {
      clearInterval(timer);
      clearLive();
    },
  };
}
