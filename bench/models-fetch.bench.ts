/**
 * Memory of `vace models fetch` on a 1 GiB file: peak RSS must stay flat (streamed to disk,
 * hashed on the fly), not grow with the file. The server runs in a child process so only the
 * client's memory is measured. Baselines, same run, same process: the idle RSS, and a plain
 * undici download of the same URL into nothing (no disk, no hash).
 *
 *   npm run bench models-fetch        (MODELS_BENCH_MIB=4096 for a bigger file)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { request } from "undici";
import { fetchModel } from "../cli/models/fetch";
import { formatBytes } from "../cli/models/progress";
import { generatedContent, sha256Of, startModelServer } from "../test/doubles/http/model-server";
import { measure } from "./measure";

const SIZE = Number(process.env.MODELS_BENCH_MIB ?? 1024) * 1024 * 1024;

async function serve(): Promise<void> {
  const content = generatedContent(SIZE);
  const server = await startModelServer({ "/model": { content } });
  process.stdout.write(
    `${JSON.stringify({ url: `${server.url}/model`, sha256: sha256Of(content) })}\n`,
  );
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
}

async function main(): Promise<void> {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, __filename, "serve"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const dir = await mkdtemp(join(tmpdir(), "vace-bench-"));
  try {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const [first] = (await once(lines, "line")) as [string];
    const { url, sha256 } = JSON.parse(first) as { url: string; sha256: string };

    global.gc?.();
    await new Promise((r) => setTimeout(r, 200));
    const idle = process.memoryUsage.rss();

    const plain = await measure(async () => {
      const res = await request(url);
      for await (const _ of res.body) {
        // discard: the cheapest possible download
      }
    });
    const fetched = await measure(() =>
      fetchModel(
        {
          name: "bench.safetensors",
          folder: "bench",
          size: SIZE,
          sha256,
          sources: [url],
          provenance: "bench",
        },
        { dir },
      ),
    );

    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    const rows: [string, string][] = [
      ["file", formatBytes(SIZE)],
      ["idle RSS (baseline)", mib(idle)],
      [`plain download to nowhere: peak RSS (${plain.seconds.toFixed(1)} s)`, mib(plain.peak)],
      [`vace fetch, disk + sha256: peak RSS (${fetched.seconds.toFixed(1)} s)`, mib(fetched.peak)],
      ["fetch peak / plain peak", (fetched.peak / plain.peak).toFixed(2)],
      ["fetch peak / idle", (fetched.peak / idle).toFixed(2)],
      ["fetch growth over idle / file size", ((fetched.peak - idle) / SIZE).toFixed(4)],
      ["fetch time / plain time", (fetched.seconds / plain.seconds).toFixed(2)],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(56)} ${v}\n`);
  } finally {
    child.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "serve") {
  serve();
} else {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
