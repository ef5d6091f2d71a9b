/**
 * How long after the server finishes a run does each client know it is done?
 *
 * - ours: `runSmoke` (WebSocket, then one GET /history), timed at its onComplete callback;
 * - baseline: the seed's client (seed-service-card.md), line for line: right after POST it checks
 *   /queue then /history/{id}, and sleeps 10 s between checks. The interval is the real 10 s, not scaled.
 *
 * "The server finishes" is the moment the ComfyUI double writes the history entry (PromptQueue.task_done).
 * Both clients watch the same prompt on the same double, so they see the same run. Runs take 2–12 s
 * (evenly spread, so the baseline's 10 s poll phase is sampled evenly) and run in parallel, one double
 * each, so the whole benchmark takes about 25 s.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { PROFILES } from "../smoke/profiles";
import { runSmoke } from "../smoke/run";
import { startComfyDouble } from "../test/doubles/comfyui/server";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20);
const SEED_POLL_MS = 10_000;
const RUN_MS = { min: 2_000, max: 12_000 };

/** The seed's VACEClient.get_status. */
async function seedStatus(url: string, id: string): Promise<string> {
  const q = (await (await request(`${url}/queue`)).body.json()) as {
    queue_running: unknown[][];
    queue_pending: unknown[][];
  };
  if (q.queue_running.some((item) => item[1] === id)) return "processing";
  if (q.queue_pending.some((item) => item[1] === id)) return "pending";
  const h = await request(`${url}/history/${id}`);
  const body = (await h.body.json()) as Record<string, unknown>;
  return h.statusCode === 200 && id in body ? "completed" : "processing";
}

/** The seed's main loop: check, then sleep 10 s, until "completed". Returns when it knew. */
async function seedClient(url: string, id: string): Promise<number> {
  for (;;) {
    if ((await seedStatus(url, id)) === "completed") return performance.now();
    await sleep(SEED_POLL_MS);
  }
}

async function iteration(i: number, outRoot: string): Promise<{ ours: number; seed: number }> {
  const runMs = RUN_MS.min + ((RUN_MS.max - RUN_MS.min) * (i + 0.5)) / ITERATIONS;
  // The ci workflow runs 13 nodes and 4 sampler steps; the steps carry the run's length.
  const d = await startComfyDouble({ nodeMs: 1, stepMs: runMs / PROFILES.ci.steps });
  try {
    let oursAt = 0;
    const smoke = runSmoke({
      url: d.url,
      token: "bench",
      profile: "ci",
      outDir: join(outRoot, String(i)),
      timeoutMs: 120_000,
      onComplete: () => {
        oursAt = performance.now();
      },
    });
    let promptId: string | undefined;
    while (!promptId) {
      promptId = d.received.prompts[0]?.promptId;
      await sleep(1);
    }
    const [report, seedAt] = await Promise.all([smoke, seedClient(d.url, promptId)]);
    if (!report.ok) throw new Error(`iteration ${i}: smoke failed: ${report.error?.message}`);
    const finished = d.finishedAt.get(promptId) as number;
    return { ours: oursAt - finished, seed: seedAt - finished };
  } finally {
    await d.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (ms: number) => (ms >= 100 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function main() {
  const outRoot = await mkdtemp(join(tmpdir(), "bench-smoke-latency-"));
  try {
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: ITERATIONS }, (_, i) => iteration(i, outRoot)),
    );
    const ours = results.map((r) => r.ours);
    const seed = results.map((r) => r.seed);
    process.stdout.write(
      [
        `runs: ${ITERATIONS} in parallel, each 2–12 s long, against the ComfyUI double (${fmt(performance.now() - t0)} wall)`,
        "time from the server writing history to the client knowing the run is done:",
        `  baseline, the seed's client polling every ${SEED_POLL_MS / 1000} s (real interval): median ${fmt(median(seed))} (min ${fmt(Math.min(...seed))}, max ${fmt(Math.max(...seed))})`,
        `  ours, WebSocket + one GET /history:                       median ${fmt(median(ours))} (min ${fmt(Math.min(...ours))}, max ${fmt(Math.max(...ours))})`,
        `  ratio of medians, baseline / ours: ${Math.round(median(seed) / median(ours))}×`,
        "",
      ].join("\n"),
    );
  } finally {
    await rm(outRoot, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
