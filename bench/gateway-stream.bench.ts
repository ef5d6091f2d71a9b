/**
 * Gateway benchmark (issue 3): `npm run bench gateway-stream`.
 *
 * 1. Streaming: 1 GiB from /view through the real gateway. Reports Caddy's peak resident memory
 *    (VmHWM) against its idle RSS and against the bytes streamed, and throughput against a direct
 *    download from the same upstream in the same run. Fails (exit 1) if the peak passes the bound
 *    docs/gateway.md states: memory, unlike time, does not depend on the machine's load.
 * 2. Auth cost per request, HTTP Basic as a browser sends it: Caddy `basicauth` with a bcrypt hash
 *    (cost 14, `caddy hash-password`'s default) with and without its hash cache, against this
 *    gateway's comparison with a credential derived at start.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import { freePort, startGateway } from "../docker/gateway/launch";
import { startRecordingUpstream } from "../test/doubles/upstream/recording-upstream";

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
/** The bound docs/gateway.md states for Caddy's resident memory while streaming 1 GiB. */
const RSS_BOUND_BYTES = 64 * MIB;

function statusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
    readFileSync(`/proc/${pid}/status`, "utf8"),
  );
  if (!m?.[1]) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]) * 1024;
}

async function download(url: string, headers: Record<string, string>, dispatcher: Agent) {
  const start = performance.now();
  const res = await request(url, { headers, dispatcher });
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) bytes += chunk.length;
  return { bytes, seconds: (performance.now() - start) / 1000 };
}

/**
 * Mean and first-request latency of `n` sequential requests on one keep-alive connection.
 * `headers(i)` gives request i's headers; `status` is the answer every request must get.
 */
async function latency(
  url: string,
  headers: (i: number) => Record<string, string>,
  n: number,
  status = 200,
) {
  const dispatcher = new Agent({ connections: 1 });
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      const res = await request(url, { headers: headers(i), dispatcher });
      await res.body.dump();
      if (res.statusCode !== status)
        throw new Error(`${url}: HTTP ${res.statusCode}, expected ${status}`);
      times.push(performance.now() - start);
    }
  } finally {
    await dispatcher.close();
  }
  const rest = times.slice(1);
  return {
    firstMs: times[0] ?? 0,
    meanMs: rest.reduce((a, b) => a + b, 0) / Math.max(rest.length, 1),
  };
}

/** A plain `caddy run` of `config` (JSON) on loopback, for the bcrypt baselines. */
async function startCaddy(configJson: string, port: number, dir: string): Promise<ChildProcess> {
  const file = join(dir, `caddy-${port}.json`);
  writeFileSync(file, configJson);
  const child = spawn("caddy", ["run", "--config", file], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
    stdio: "ignore",
  });
  for (let i = 0; i < 250; i++) {
    try {
      const res = await request(`http://127.0.0.1:${port}/`);
      await res.body.dump();
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  child.kill();
  throw new Error(`caddy did not start on ${port}`);
}

function bcryptConfig(
  hash: string,
  port: number,
  upstream: string,
  cache: boolean,
  dir: string,
): string {
  const caddyfile = join(dir, `Caddyfile-${port}`);
  writeFileSync(
    caddyfile,
    `{\n\tadmin off\n}\nhttp://127.0.0.1:${port} {\n\tbasicauth {\n\t\tvace ${hash}\n\t}\n\treverse_proxy ${upstream}\n}\n`,
  );
  const adapted = spawnSync("caddy", ["adapt", "--adapter", "caddyfile", "--config", caddyfile], {
    encoding: "utf8",
  });
  if (adapted.status !== 0) throw new Error(adapted.stderr);
  // The Caddyfile adapter always turns the cache on; the JSON form can turn it off.
  return cache ? adapted.stdout : adapted.stdout.replace(/,?"hash_cache":\{\}/, "");
}

async function main(): Promise<void> {
  const token = randomBytes(32).toString("base64url");
  const scratch = mkdtempSync(join(tmpdir(), "vace-gw-bench-"));
  const upstream = await startRecordingUpstream();
  const gw = await startGateway({
    VACE_TOKEN: token,
    VACE_UPSTREAM: upstream.hostPort,
    VACE_TLS: "off",
  });
  const children: ChildProcess[] = [];
  let failed = false;
  try {
    // --- 1. streaming ---------------------------------------------------------------------
    const bearer = { authorization: `Bearer ${token}` };
    const agent = new Agent();
    const view = `/view?filename=big.mp4&type=output&vace_test_size=${GIB}`;
    await download(`${gw.url}/view?filename=warm.mp4&vace_test_size=${MIB}`, bearer, agent);
    const idleRss = statusBytes(gw.pid, "VmRSS");
    const direct = await download(`http://${upstream.hostPort}${view}`, {}, agent);
    const viaGateway = await download(`${gw.url}${view}`, bearer, agent);
    const peak = statusBytes(gw.pid, "VmHWM");
    await agent.close();
    if (viaGateway.bytes !== GIB)
      throw new Error(`streamed ${viaGateway.bytes} bytes, expected ${GIB}`);
    const mbps = (r: { bytes: number; seconds: number }) => r.bytes / MIB / r.seconds;
    console.log("1 GiB GET /view through the gateway (Caddy 2.6.2, VACE_TLS=off, loopback)");
    console.log(`  caddy RSS idle           ${(idleRss / MIB).toFixed(1)} MiB`);
    console.log(
      `  caddy peak RSS (VmHWM)   ${(peak / MIB).toFixed(1)} MiB  = ${(peak / idleRss).toFixed(2)}x idle, ${((peak / GIB) * 100).toFixed(2)}% of the bytes streamed`,
    );
    console.log(
      `  bound                    ${(RSS_BOUND_BYTES / MIB).toFixed(0)} MiB  -> ${peak <= RSS_BOUND_BYTES ? "within" : "EXCEEDED"}`,
    );
    console.log(
      `  throughput               ${mbps(viaGateway).toFixed(0)} MiB/s via gateway vs ${mbps(direct).toFixed(0)} MiB/s direct = ${(mbps(viaGateway) / mbps(direct)).toFixed(2)}x (baseline: direct, same run)`,
    );
    if (peak > RSS_BOUND_BYTES) failed = true;

    // --- 2. auth cost per request ----------------------------------------------------------
    const hashed = spawnSync("caddy", ["hash-password"], { input: `${token}\n`, encoding: "utf8" });
    if (hashed.status !== 0) throw new Error(hashed.stderr);
    const hash = hashed.stdout.trim();
    const [cachedPort, uncachedPort] = await Promise.all([freePort(), freePort()]);
    children.push(
      await startCaddy(
        bcryptConfig(hash, cachedPort, upstream.hostPort, true, scratch),
        cachedPort,
        scratch,
      ),
    );
    children.push(
      await startCaddy(
        bcryptConfig(hash, uncachedPort, upstream.hostPort, false, scratch),
        uncachedPort,
        scratch,
      ),
    );
    const basic = () => ({
      authorization: `Basic ${Buffer.from(`vace:${token}`).toString("base64")}`,
    });
    // Every wrong password misses the cache: what anyone on the internet can make the server do.
    const wrong = (i: number) => ({
      authorization: `Basic ${Buffer.from(`vace:wrong-${i}-${token}`).toString("base64")}`,
    });
    const path = "/queue";
    const n = 200;
    const ours = await latency(`${gw.url}${path}`, basic, n);
    const cached = await latency(`http://127.0.0.1:${cachedPort}${path}`, basic, n);
    const uncached = await latency(`http://127.0.0.1:${uncachedPort}${path}`, basic, 6);
    const oursWrong = await latency(`${gw.url}${path}`, wrong, n, 401);
    const cachedWrong = await latency(`http://127.0.0.1:${cachedPort}${path}`, wrong, 6, 401);
    const pageAssets = 50;
    console.log(
      `\nHTTP Basic per request, sequential, one keep-alive connection (bcrypt cost ${hash.slice(4, 6)})`,
    );
    const row = (name: string, r: { firstMs: number; meanMs: number }, base: { meanMs: number }) =>
      console.log(
        `  ${name.padEnd(40)} first ${r.firstMs.toFixed(1).padStart(7)} ms   then ${r.meanMs.toFixed(2).padStart(8)} ms/request = ${(r.meanMs / base.meanMs).toFixed(1).padStart(6)}x derived header`,
      );
    row("right password: derived header (here)", ours, ours);
    row("right password: bcrypt + hash cache", cached, ours);
    row("right password: bcrypt, no cache", uncached, ours);
    row("wrong passwords: derived header (here)", oursWrong, oursWrong);
    row("wrong passwords: bcrypt + hash cache", cachedWrong, oursWrong);
    console.log(
      `  a ${pageAssets}-asset UI page load: ~${((uncached.meanMs * pageAssets) / 1000).toFixed(1)} s of bcrypt without a cache; ~${(cached.firstMs / 1000).toFixed(1)} s once per Caddy process with it; ~${((ours.meanMs * pageAssets) / 1000).toFixed(3)} s in all here`,
    );
  } finally {
    for (const c of children) c.kill();
    await gw.stop();
    await upstream.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
