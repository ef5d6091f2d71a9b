/** Test clients for the gateway that need exact bytes, socket timing or a slow body. */
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import { request } from "undici";

/** An authenticated POST /prompt whose body pauses `pauseMs` halfway (a slow upload). */
export function slowAuthedPrompt(base: string, token: string, tag: string, pauseMs: number) {
  return request(`${base}/prompt?case=${tag}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: Readable.from(
      (async function* () {
        yield '{"prompt": ';
        await new Promise((r) => setTimeout(r, pauseMs));
        yield '{"1": {"class_type": "X", "inputs": {}}}}';
      })(),
    ),
  });
}

/**
 * What a raw connection got back, and whether the server closed it, within `limitMs`; with
 * `until: "answer"`, it stops at the end of the response head.
 */
export interface RawResult {
  response: string;
  closedByServer: boolean;
  ms: number;
}

export function rawExchange(
  socket: Socket,
  send: (s: Socket) => void,
  limitMs: number,
  until: "close" | "answer" = "close",
) {
  return new Promise<RawResult>((resolve) => {
    const started = Date.now();
    let response = "";
    const done = (closedByServer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, closedByServer, ms: Date.now() - started });
    };
    const timer = setTimeout(() => done(false), limitMs);
    socket.on("data", (d: Buffer) => {
      response += d.toString("latin1");
      if (until === "answer" && response.includes("\r\n\r\n")) done(false);
    });
    socket.on("error", () => {});
    socket.on("close", () => done(true));
    send(socket);
  });
}
