/**
 * The smoke's record of a run: `report.json` (for people and scripts) and JUnit XML (for CI).
 * Both are pure renderings of one SmokeReport; neither ever holds the token.
 */

import { XMLBuilder } from "fast-xml-parser";
import type { ColdStartReport, StageTimes } from "./cold-start";
import { type FailureKind, PHASES, type Phase } from "./errors";
import type { Profile, SamplingCost } from "./profiles";
import type { ContentMode, VerifyResult } from "./verify";

export interface ServerInfo {
  comfyuiVersion: string | null;
  pytorchVersion: string | null;
  pythonVersion: string | null;
  os: string | null;
  /** The first device's name as ComfyUI reports it, e.g. "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync". */
  gpu: string | null;
  vramTotalBytes: number | null;
}

/** Whether the verifier's content checks (blank, frozen, noise) ran, and if not, why. */
export interface ContentReport {
  mode: ContentMode;
  ran: boolean;
  /** Why they did not run; null when they ran. */
  skipped: string | null;
}

export interface SmokeReport {
  ok: boolean;
  exitCode: number;
  profile: string;
  /** The server URL without credentials. */
  url: string;
  startedAt: string;
  finishedAt: string;
  params: Profile & {
    prompt: string;
    negative: string;
    seed: number;
    /** Where the reference image came from, and the name ComfyUI stored it under. */
    image: { source: string; uploadedAs: string | null };
  };
  /** The workflow run: r2v for the smoke, any of them for `vace run`. */
  workflow?: string;
  /** Every uploaded input (reference image, input video, mask video) and its stored name. */
  uploads?: Array<{ role: string; source: string; uploadedAs: string | null }>;
  cost: SamplingCost;
  clientId: string;
  promptId: string | null;
  /** How completion was learned: the WebSocket, or /history polling when the socket was unavailable. */
  tracking: "websocket" | "polling" | null;
  /** Empty /history answers after execution_success (ComfyUI's history race), each retried. */
  historyRetries: number;
  /** Background /history or /queue polls that failed transiently (unreachable, reset, 5xx) and were retried. */
  transientErrors: number;
  server: ServerInfo | null;
  /** Seconds per phase, for the phases that ran. */
  timings: Partial<Record<Phase, number>>;
  video: { file: string; bytes: number; filename: string; subfolder: string; type: string } | null;
  verification: VerifyResult | null;
  /** Null when verification was not reached. */
  content: ContentReport | null;
  error: { phase: Phase; kind: FailureKind; message: string } | null;
  /** Deploy → first /healthz 200 → first verified video, and the instance's own boot timeline. */
  coldStart: ColdStartReport;
  /** Seconds per node and stage (model load vs sampling); null when tracked by polling. */
  stages: StageTimes | null;
  /** Profile full: the v2v edit of this run's video as a MOV at 832×480 (smoke/full.ts). */
  edit?: SmokeReport;
}

/** Pure: the facts the report keeps from `/system_stats` (both the 2025 and 2026 shapes). */
export function serverInfo(stats: unknown): ServerInfo {
  const s = (stats ?? {}) as {
    system?: Record<string, unknown>;
    devices?: Array<Record<string, unknown>>;
  };
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  const device = s.devices?.[0];
  return {
    comfyuiVersion: str(s.system?.comfyui_version),
    pytorchVersion: str(s.system?.pytorch_version),
    pythonVersion: str(s.system?.python_version),
    os: str(s.system?.os),
    gpu: str(device?.name),
    vramTotalBytes: typeof device?.vram_total === "number" ? device.vram_total : null,
  };
}

// XML 1.0 cannot carry most control characters, even escaped; ffmpeg and tracebacks can contain them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point.
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const clean = (s: string) => s.replace(XML_INVALID, "");

interface TestCase {
  "@_classname": string;
  "@_name": string;
  "@_time": string;
  failure?: { "@_message": string; "@_type": string; "#text": string };
  error?: { "@_message": string; "@_type": string; "#text": string };
  skipped?: { "@_message": string };
}

const PHASE_LABEL: Record<Phase, string> = {
  ready: "gateway and ComfyUI ready",
  preflight: "nodes and model files present",
  upload: "upload reference image",
  queueWait: "prompt accepted and started",
  execution: "workflow executed",
  download: "video downloaded",
  verify: "video verified",
};

/** Pure: JUnit XML for one smoke run: one test case per phase, one per verification check. */
export function renderJUnit(r: SmokeReport): string {
  const cases: TestCase[] = [];
  let reachedFailure = false;
  for (const phase of PHASES) {
    const tc: TestCase = {
      "@_classname": "vace.smoke",
      "@_name": `${phase}: ${PHASE_LABEL[phase]}`,
      "@_time": (r.timings[phase] ?? 0).toFixed(3),
    };
    if (r.error?.phase === phase) {
      reachedFailure = true;
      const body = {
        "@_message": clean(r.error.message),
        "@_type": r.error.kind,
        "#text": clean(r.error.message),
      };
      // JUnit: a failure is a wrong result, an error is a test that could not run to a result.
      if (r.error.kind === "check" || r.error.kind === "execution") tc.failure = body;
      else tc.error = body;
    } else if (reachedFailure || r.timings[phase] === undefined) {
      tc.skipped = { "@_message": r.error ? `not reached: ${r.error.phase} failed` : "not run" };
    }
    cases.push(tc);
  }
  for (const check of r.verification?.checks ?? []) {
    const tc: TestCase = {
      "@_classname": "vace.smoke.verify",
      "@_name": check.name,
      "@_time": "0.000",
    };
    if (!check.ok) {
      const msg = `expected ${JSON.stringify(check.expected)}, got ${JSON.stringify(check.actual)}`;
      tc.failure = { "@_message": clean(msg), "@_type": "verify", "#text": clean(msg) };
    }
    cases.push(tc);
  }
  if (r.content?.skipped) {
    // A skipped check must show in CI, not vanish: "passed" would claim more than was checked.
    cases.push({
      "@_classname": "vace.smoke.verify",
      "@_name": "content (blank, frozen, noise)",
      "@_time": "0.000",
      skipped: { "@_message": clean(r.content.skipped) },
    });
  }
  const count = (k: "failure" | "error" | "skipped") => cases.filter((c) => c[k]).length;
  const time = Object.values(r.timings)
    .reduce((a, b) => a + (b ?? 0), 0)
    .toFixed(3);
  const totals = {
    "@_tests": String(cases.length),
    "@_failures": String(count("failure")),
    "@_errors": String(count("error")),
    "@_skipped": String(count("skipped")),
    "@_time": time,
  };
  const properties = Object.entries({
    url: r.url,
    profile: r.profile,
    prompt_id: r.promptId ?? "",
    seed: String(r.params.seed),
    comfyui_version: r.server?.comfyuiVersion ?? "",
    pytorch_version: r.server?.pytorchVersion ?? "",
    gpu: r.server?.gpu ?? "",
    sampling_cost: String(r.cost.cost),
    transient_errors: String(r.transientErrors),
  }).map(([name, value]) => ({ "@_name": name, "@_value": clean(value) }));
  const doc = {
    "?xml": { "@_version": "1.0", "@_encoding": "UTF-8" },
    testsuites: {
      "@_name": "vace smoke",
      ...totals,
      testsuite: {
        "@_name": `vace smoke (${r.profile})`,
        ...totals,
        "@_timestamp": r.startedAt.replace(/\.\d+Z$/, ""),
        properties: { property: properties },
        testcase: cases,
      },
    },
  };
  return new XMLBuilder({ ignoreAttributes: false, format: true, suppressEmptyNode: true }).build(
    doc,
  );
}
