/**
 * Following one prompt from POST to a written history entry.
 *
 * The socket is the fast path; `/history/{id}` (and `/queue` while waiting) is polled as the fallback,
 * slowly while the socket is up and every second once it is gone. ComfyUI sends `execution_success`
 * *before* it writes history (execution.py vs main.py `task_done`), so an empty history right after
 * success is retried briefly rather than treated as missing.
 *
 * These polls are background checks on a run that the socket may be following fine, so a poll that
 * fails transiently (connection refused or reset, a 5xx from a restarting gateway) is logged, counted
 * and repeated at the fast interval until the deadline; only a rejected token or another 4xx ends the run.
 */

import { pause, withDeadline } from "./deadline";
import { isTransient, SmokeError } from "./errors";
import type { ComfyMessage, EventSocket } from "./events";
import type { ComfyHttp } from "./http";

export interface HistoryEntry {
  prompt?: unknown[];
  outputs?: Record<string, Record<string, unknown>>;
  status?: {
    status_str?: string;
    completed?: boolean;
    messages?: Array<[string, Record<string, unknown>]>;
  } | null;
}

export type Outcome =
  | { kind: "success" }
  | {
      kind: "error";
      nodeId: string;
      nodeType: string;
      exceptionType: string;
      exceptionMessage: string;
    }
  | { kind: "interrupted"; nodeId: string; nodeType: string };

export interface TrackState {
  started: boolean;
  outcome?: Outcome;
  /** `executing {node: null}` arrived: ComfyUI sends it only after history is written. */
  historyWritten: boolean;
  lastNode?: string;
  progress?: { node: string; value: number; max: number };
  queueRemaining?: number;
}

export const initialTrackState = (): TrackState => ({ started: false, historyWritten: false });

/** Pure: the state after one socket message. Messages for other prompts are ignored. */
export function applyMessage(state: TrackState, msg: ComfyMessage, promptId: string): TrackState {
  const d = msg.data;
  // Messages without a prompt_id (status, the reconnect `executing`) are for this client by routing.
  if (typeof d.prompt_id === "string" && d.prompt_id !== promptId) return state;
  switch (msg.type) {
    case "status": {
      const remaining = (d.status as { exec_info?: { queue_remaining?: unknown } } | undefined)
        ?.exec_info?.queue_remaining;
      return typeof remaining === "number" ? { ...state, queueRemaining: remaining } : state;
    }
    case "execution_start":
    case "execution_cached":
      return { ...state, started: true };
    case "executing":
      if (d.node === null) {
        return typeof d.prompt_id === "string"
          ? { ...state, started: true, historyWritten: true }
          : state;
      }
      return { ...state, started: true, lastNode: String(d.node) };
    case "progress":
      return {
        ...state,
        started: true,
        progress: { node: String(d.node), value: Number(d.value), max: Number(d.max) },
      };
    case "execution_success":
      return { ...state, started: true, outcome: { kind: "success" } };
    case "execution_error":
    case "execution_interrupted":
      return { ...state, started: true, outcome: outcomeFromMessage(msg) };
    default:
      return state;
  }
}

function outcomeFromMessage(msg: ComfyMessage): Outcome {
  const d = msg.data;
  const nodeId = String(d.node_id ?? "?");
  const nodeType = String(d.node_type ?? "?");
  if (msg.type === "execution_interrupted") return { kind: "interrupted", nodeId, nodeType };
  return {
    kind: "error",
    nodeId,
    nodeType,
    exceptionType: String(d.exception_type ?? "unknown exception"),
    exceptionMessage: String(d.exception_message ?? "").trim(),
  };
}

/** Pure: the outcome recorded in a history entry (its last status message decides). */
export function outcomeFromHistory(entry: HistoryEntry): Outcome {
  const messages = entry.status?.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const [type, data] = messages[i] ?? [];
    if (type === "execution_success") return { kind: "success" };
    if (type === "execution_error" || type === "execution_interrupted") {
      return outcomeFromMessage({ type, data: data ?? {} });
    }
  }
  if (entry.status?.status_str === "success" || entry.status == null) return { kind: "success" };
  return {
    kind: "error",
    nodeId: "?",
    nodeType: "?",
    exceptionType: "unknown",
    exceptionMessage: `history status ${entry.status.status_str}, with no error message`,
  };
}

/** Pure: a person's description of a failed outcome. */
export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case "success":
      return "succeeded";
    case "interrupted":
      return `ComfyUI interrupted the run in node ${o.nodeId} (${o.nodeType}): someone called /interrupt or the server is shutting down`;
    case "error":
      return `ComfyUI execution_error in node ${o.nodeId} (${o.nodeType}): ${o.exceptionType}: ${o.exceptionMessage || "(no message)"}`;
  }
}

/** Pure: the node the run is in, e.g. `node 24 (KSampler), step 3/20`; undefined before any node ran. */
export function describeNode(
  s: TrackState,
  nodeClass: (id: string) => string | undefined,
): string | undefined {
  if (!s.lastNode) return undefined;
  const cls = nodeClass(s.lastNode);
  const p =
    s.progress && s.progress.node === s.lastNode
      ? `, step ${s.progress.value}/${s.progress.max}`
      : "";
  return `node ${s.lastNode}${cls ? ` (${cls})` : ""}${p}`;
}

/** Pure: where the run is, for timeout messages. */
export function describeState(
  s: TrackState,
  nodeClass: (id: string) => string | undefined,
): string {
  if (!s.started) {
    return s.queueRemaining === undefined
      ? "the prompt never started"
      : `the prompt never started (queue_remaining ${s.queueRemaining}: another job may hold the GPU)`;
  }
  if (s.outcome?.kind === "success")
    return "the run succeeded but its history entry never appeared";
  const node = describeNode(s, nodeClass);
  return node ? `the run stalled in ${node}` : "the run started but no node ever began executing";
}

export interface TrackOptions {
  http: ComfyHttp;
  /** The socket, or undefined when it could not be opened (then polling only). */
  events: EventSocket | undefined;
  promptId: string;
  queueTimeoutMs: number;
  executionTimeoutMs: number;
  /** How often to poll while the socket is healthy (a safety net only). */
  slowPollMs?: number;
  /** How often to poll without a socket. */
  fastPollMs?: number;
  nodeClass: (id: string) => string | undefined;
  log: (line: string) => void;
  /** Called the instant the run is known to have started and to be complete. */
  onStarted?: () => void;
  /** Called for each background poll that failed transiently (and will be repeated). */
  onTransientError?: (err: SmokeError) => void;
}

export interface TrackResult {
  history: HistoryEntry;
  /** How often `/history` came back empty after ComfyUI said the run had finished. */
  historyRetries: number;
  tracking: "websocket" | "polling";
}

/** Follows the prompt until its history entry is written; throws SmokeError on failure or timeout. */
export async function trackPrompt(o: TrackOptions): Promise<TrackResult> {
  const slowPoll = o.slowPollMs ?? 5_000;
  const fastPoll = o.fastPollMs ?? 1_000;
  let state = initialTrackState();
  let history: HistoryEntry | undefined;
  let historyRetries = 0;
  let lastPoll = Date.now();
  /** The last poll failed transiently: poll again at the fast interval even with a healthy socket. */
  let retrying = false;
  let lastProgressLog = "";
  const socketWasUp = o.events !== undefined;

  const logProgress = () => {
    const node = describeNode(state, o.nodeClass);
    if (node && !state.outcome && node !== lastProgressLog) {
      lastProgressLog = node;
      o.log(`  running ${node}`);
    }
  };

  const fetchHistory = async (signal: AbortSignal, phase: "queueWait" | "execution") => {
    const all = await o.http.json<Record<string, HistoryEntry>>(
      `history/${encodeURIComponent(o.promptId)}`,
      {
        phase,
        signal,
      },
    );
    return all[o.promptId];
  };

  const pollQueue = async (signal: AbortSignal) => {
    const q = await o.http.json<{ queue_running?: unknown[][] }>("queue", {
      phase: "queueWait",
      signal,
    });
    if (q.queue_running?.some((item) => item[1] === o.promptId))
      state = { ...state, started: true };
  };

  /** Runs one poll; a transient failure is reported and swallowed (returns false), any other rethrown. */
  const tolerant = async (signal: AbortSignal, poll: () => Promise<void>): Promise<boolean> => {
    try {
      await poll();
      retrying = false;
      return true;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (!isTransient(err)) throw err;
      retrying = true;
      o.onTransientError?.(err as SmokeError);
      o.log(`  poll failed, retrying in ${fastPoll} ms: ${(err as Error).message}`);
      return false;
    }
  };

  /** One step: the next socket message, or a poll of /history when one is due. */
  let announcedClose = false;
  const step = async (signal: AbortSignal, phase: "queueWait" | "execution") => {
    const interval = o.events && !o.events.closed && !retrying ? slowPoll : fastPoll;
    const due = lastPoll + interval - Date.now();
    if (due > 0) {
      // Even a closed socket is drained first: what arrived before the close still counts.
      const ev = o.events ? await o.events.next(due, signal) : "closed";
      if (typeof ev === "object") {
        state = applyMessage(state, ev, o.promptId);
        logProgress();
        return;
      }
      if (ev === "closed") {
        if (o.events && !announcedClose) {
          announcedClose = true;
          o.log(`  event socket ${o.events.closeReason ?? "closed"}; polling /history instead`);
        }
        const left = lastPoll + fastPoll - Date.now();
        if (left > 0) await pause(left, signal);
      }
    }
    lastPoll = Date.now();
    await tolerant(signal, async () => {
      const entry = await fetchHistory(signal, phase);
      if (entry) {
        history = entry;
        state = {
          ...state,
          started: true,
          historyWritten: true,
          outcome: state.outcome ?? outcomeFromHistory(entry),
        };
      } else if (!state.started) {
        await pollQueue(signal);
      }
    });
  };

  /** A deadline whose timeout message says where the run was. */
  const until = (
    phase: "queueWait" | "execution",
    ms: number,
    fn: (signal: AbortSignal) => Promise<void>,
  ) => withDeadline(phase, ms, () => describeState(state, o.nodeClass), fn);

  await until("queueWait", o.queueTimeoutMs, async (signal) => {
    while (!state.started) await step(signal, "queueWait");
  });
  o.onStarted?.();

  await until("execution", o.executionTimeoutMs, async (signal) => {
    while (!state.outcome) await step(signal, "execution");
    if (state.outcome.kind !== "success") {
      throw new SmokeError("execution", "execution", describeOutcome(state.outcome));
    }
    // The history race: execution_success is sent before task_done() writes the entry.
    let delay = 50;
    while (!history) {
      const answered = await tolerant(signal, async () => {
        history = await fetchHistory(signal, "execution");
      });
      if (history) break;
      if (!answered) {
        await pause(fastPoll, signal);
        continue;
      }
      historyRetries++;
      await pause(state.historyWritten ? 0 : delay, signal);
      delay = Math.min(delay * 2, fastPoll);
    }
  });
  if (historyRetries > 0) {
    o.log(
      `  /history was empty ${historyRetries}× after execution_success (ComfyUI's history race); retried`,
    );
  }
  const finalOutcome = outcomeFromHistory(history as HistoryEntry);
  if (finalOutcome.kind !== "success") {
    throw new SmokeError("execution", "execution", describeOutcome(finalOutcome));
  }
  return {
    history: history as HistoryEntry,
    historyRetries,
    tracking: socketWasUp && !o.events?.closed ? "websocket" : "polling",
  };
}
