/** The smoke's decisions as pure functions: phase limits, content checks, what is retried, TLS advice. */
import { describe, expect, it } from "vitest";
import { DEFAULT_READY_TIMEOUT_S, DEFAULT_TIMEOUT_S } from "../cli/smoke";
import { isTransient, SmokeError } from "./errors";
import { tlsAdvice } from "./http";
import { contentPlan, DEFAULT_PHASE_TIMEOUTS_MS, phaseLimitMs } from "./run";
import { ContentToolMissingError } from "./verify";

const MIN = 60_000;

describe("phase limits", () => {
  it("lets readiness wait out a 25-minute cold start within the e2e workflow's --timeout 2400", () => {
    // README: 15–25 minutes from `pulumi up` until /healthz answers 200.
    expect(phaseLimitMs("ready", undefined, 2400 * 1000)).toBeGreaterThanOrEqual(25 * MIN);
    expect(phaseLimitMs("ready", undefined, 2400 * 1000)).toBe(30 * MIN);
  });

  it("caps every phase by what is left of the overall budget, and by an explicit limit", () => {
    expect(phaseLimitMs("ready", undefined, 12 * MIN)).toBe(12 * MIN);
    expect(phaseLimitMs("ready", { ready: 5 * MIN }, 40 * MIN)).toBe(5 * MIN);
    expect(phaseLimitMs("execution", { ready: 1 }, 40 * MIN)).toBe(
      DEFAULT_PHASE_TIMEOUTS_MS.execution,
    );
    expect(phaseLimitMs("verify", undefined, -5)).toBe(0);
  });

  it("gives each default --timeout a cold start and then the run's own phases", () => {
    expect(DEFAULT_READY_TIMEOUT_S * 1000).toBe(DEFAULT_PHASE_TIMEOUTS_MS.ready);
    // ci: after a full ready wait, 15 minutes for the first model load and a 4-step run.
    expect(DEFAULT_TIMEOUT_S.ci - DEFAULT_READY_TIMEOUT_S).toBe(15 * 60);
    expect(DEFAULT_TIMEOUT_S.full - DEFAULT_READY_TIMEOUT_S).toBe(50 * 60);
  });
});

describe("contentPlan", () => {
  it("runs the checks when ffmpeg is there, unless skipped", () => {
    expect(contentPlan("auto", true)).toEqual({ mode: "auto", ran: true, skipped: null });
    expect(contentPlan("require", true)).toEqual({ mode: "require", ran: true, skipped: null });
    expect(contentPlan("skip", true)).toMatchObject({
      ran: false,
      skipped: "skipped by --content skip",
    });
  });

  it("records why auto skipped them, and refuses require without ffmpeg", () => {
    expect(contentPlan("auto", false).skipped).toMatch(/^ffmpeg is not on PATH/);
    expect(() => contentPlan("require", false)).toThrow(ContentToolMissingError);
  });
});

describe("isTransient", () => {
  it("retries unreachable and 5xx; not TLS, tokens, 4xx, malformed answers or bugs", () => {
    const e = (kind: SmokeError["kind"], detail = {}) =>
      new SmokeError(kind, "execution", "x", detail);
    expect(isTransient(e("unreachable"))).toBe(true);
    expect(isTransient(e("check", { status: 502 }))).toBe(true);
    expect(isTransient(e("check", { status: 500 }))).toBe(true);
    expect(isTransient(e("unreachable", { tls: true }))).toBe(false);
    expect(isTransient(e("auth", { status: 401 }))).toBe(false);
    expect(isTransient(e("check", { status: 404 }))).toBe(false);
    expect(isTransient(e("check"))).toBe(false);
    expect(isTransient(e("timeout"))).toBe(false);
    expect(isTransient(new TypeError("x"))).toBe(false);
  });
});

describe("tlsAdvice", () => {
  const advice = (code: string, pinned: boolean) =>
    tlsAdvice(code, "h:443", "GET /healthz", pinned);
  it("says what to do for each kind of TLS failure", () => {
    expect(advice("DEPTH_ZERO_SELF_SIGNED_CERT", false)).toContain(
      "pass the gateway's certificate with --ca FILE",
    );
    expect(advice("DEPTH_ZERO_SELF_SIGNED_CERT", true)).toContain("is not the one --ca pins");
    expect(advice("ERR_TLS_CERT_ALTNAME_INVALID", true)).toContain("does not name h:443");
    expect(advice("ERR_SSL_WRONG_VERSION_NUMBER", false)).toContain("does not speak TLS");
  });
});
