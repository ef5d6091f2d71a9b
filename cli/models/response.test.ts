import { describe, expect, it } from "vitest";
import { backoffDelay, classifyResponse, finalNetworkError, parseContentRange } from "./response";

describe("parseContentRange", () => {
  it("reads start, end and total (or an unknown total)", () => {
    expect(parseContentRange("bytes 100-199/200")).toEqual({ start: 100, end: 199, total: 200 });
    expect(parseContentRange("bytes 0-9/*")).toEqual({ start: 0, end: 9, total: undefined });
  });
  it("rejects anything else", () => {
    for (const h of [undefined, "", "bytes */200", "items 0-1/2", "bytes 1-2"]) {
      expect(parseContentRange(h)).toBeUndefined();
    }
  });
});

describe("classifyResponse", () => {
  const size = 1000;

  it("appends a 206 that starts exactly where the partial file ends", () => {
    expect(
      classifyResponse({ status: 206, offset: 400, size, contentRange: "bytes 400-999/1000" }),
    ).toEqual({ action: "append" });
  });

  it("retries a 206 for other bytes than asked, and drops a source whose total differs", () => {
    expect(
      classifyResponse({ status: 206, offset: 400, size, contentRange: "bytes 0-999/1000" }),
    ).toMatchObject({ action: "retry" });
    expect(
      classifyResponse({ status: 206, offset: 400, size, contentRange: "bytes 400-1000/1001" }),
    ).toEqual({
      action: "next-source",
      reason: "server says the file has 1001 bytes, the manifest says 1000",
    });
  });

  it("restarts from zero on a 200, also when a Range was sent and ignored", () => {
    expect(classifyResponse({ status: 200, offset: 0, size, contentLength: "1000" })).toEqual({
      action: "restart",
    });
    expect(classifyResponse({ status: 200, offset: 400, size })).toEqual({ action: "restart" });
    expect(classifyResponse({ status: 200, offset: 0, size, contentLength: "999" })).toMatchObject({
      action: "next-source",
    });
  });

  it("starts over after a 416, retries transient statuses, and gives up on the rest", () => {
    expect(classifyResponse({ status: 416, offset: 400, size })).toMatchObject({
      action: "retry",
      startOver: true,
    });
    for (const status of [408, 429, 500, 502, 503]) {
      expect(classifyResponse({ status, offset: 0, size })).toEqual({
        action: "retry",
        reason: `HTTP ${status}`,
      });
    }
    for (const status of [301, 401, 403, 404, 410]) {
      expect(classifyResponse({ status, offset: 0, size })).toEqual({
        action: "next-source",
        reason: `HTTP ${status}`,
      });
    }
  });
});

describe("backoffDelay", () => {
  it("doubles per failure up to the cap; jitter only shortens, by at most 20%", () => {
    const noJitter = () => 0;
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, 1000, 30_000, noJitter))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(backoffDelay(3, 1000, 30_000, () => 1)).toBe(3200);
  });
});

describe("finalNetworkError", () => {
  const url = "https://hf-mirror.com/x/model.safetensors";
  it("names what a retry cannot fix, plainly", () => {
    expect(finalNetworkError("ECONNREFUSED", url)).toBe(
      "connection refused by hf-mirror.com: nothing listens there",
    );
    expect(finalNetworkError("ENOTFOUND", url)).toBe(
      "unknown host hf-mirror.com: DNS has no address for it",
    );
    expect(finalNetworkError("CERT_HAS_EXPIRED", url)).toBe(
      "TLS certificate of hf-mirror.com rejected (CERT_HAS_EXPIRED)",
    );
    expect(finalNetworkError("EPROTO", url)).toMatch(/plain http:\/\/ server\?$/);
  });
  it("leaves what a retry may fix to the retry rules", () => {
    for (const code of ["ECONNRESET", "ETIMEDOUT", "EAI_AGAIN", "UND_ERR_SOCKET", undefined]) {
      expect(finalNetworkError(code, url), String(code)).toBeUndefined();
    }
  });
});
