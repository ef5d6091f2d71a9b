/**
 * ComfyUI's event socket (`/ws?clientId=…`), opened once, before the prompt is posted, and kept for the
 * whole run: ComfyUI buffers nothing, so a message sent while no socket is open is lost (ComfyUI #9330).
 * Messages are queued from the moment the socket opens; the tracker reads them in order.
 */
import { WebSocket } from "undici";
import type { ExecutionEvent } from "./cold-start";
import type { ComfyHttp } from "./http";

export interface ComfyMessage {
  type: string;
  data: Record<string, unknown>;
}

export type NextEvent = ComfyMessage | "closed" | "idle";

export class EventSocket {
  readonly #queue: ComfyMessage[] = [];
  /** Node starts and cache hits as they arrived, for the per-node times in report.json. */
  readonly execution: ExecutionEvent[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  /** Why the socket closed, for the report (e.g. "closed by server, code 1006"). */
  closeReason: string | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (ev) => {
      // Binary frames are previews and KJNodes' progress text (types 1, 3, 4); the smoke needs neither.
      if (typeof ev.data !== "string") return;
      const msg = parseMessage(ev.data);
      if (msg) {
        this.#record(msg);
        this.#push(msg);
      }
    });
    ws.addEventListener("close", (ev) => {
      this.#closed = true;
      this.closeReason ??= `closed by the server (code ${ev.code}${ev.reason ? `, ${ev.reason}` : ""})`;
      this.#wake?.();
    });
  }

  /**
   * Opens the socket, or resolves with the reason it could not be opened (the caller then polls
   * `/history` instead; a missing socket slows the smoke down but does not fail it).
   */
  static open(
    http: ComfyHttp,
    clientId: string,
    timeoutMs: number,
  ): Promise<EventSocket | { error: string }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(http.socketUrl(clientId), {
        headers: http.authHeaders(),
        dispatcher: http.dispatcher,
      });
      const timer = setTimeout(() => {
        ws.close();
        resolve({ error: `no WebSocket handshake within ${timeoutMs} ms` });
      }, timeoutMs);
      const socket = new EventSocket(ws);
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(socket);
      });
      ws.addEventListener("error", () => {
        clearTimeout(timer);
        // undici's error event carries no status; the HTTP requests before this one report auth problems.
        resolve({ error: "the WebSocket handshake failed" });
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next message, "closed" once the socket is gone and drained, or "idle" after `waitMs` of quiet. */
  async next(waitMs: number, signal: AbortSignal): Promise<NextEvent> {
    const ready = this.#queue.shift();
    if (ready) return ready;
    if (this.#closed) return "closed";
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      signal.addEventListener("abort", done);
      this.#wake = done;
    });
    if (signal.aborted) throw signal.reason;
    return this.#queue.shift() ?? (this.#closed ? "closed" : "idle");
  }

  close(): void {
    this.closeReason ??= "closed by the client";
    this.ws.close();
  }

  #record(msg: ComfyMessage): void {
    const atMs = Date.now();
    if (msg.type === "executing") {
      const node = msg.data.node;
      this.execution.push({ type: "executing", node: node == null ? null : String(node), atMs });
    } else if (msg.type === "execution_cached" && Array.isArray(msg.data.nodes)) {
      this.execution.push({ type: "cached", nodes: msg.data.nodes.map(String), atMs });
    }
  }

  #push(msg: ComfyMessage): void {
    this.#queue.push(msg);
    this.#wake?.();
  }
}

/** Pure: a ComfyUI text frame as `{type, data}`, or undefined for anything else. */
export function parseMessage(text: string): ComfyMessage | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object") return undefined;
    const { type, data } = value as { type?: unknown; data?: unknown };
    if (typeof type !== "string") return undefined;
    return {
      type,
      data: data !== null && typeof data === "object" ? (data as Record<string, unknown>) : {},
    };
  } catch {
    return undefined;
  }
}
