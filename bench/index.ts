/**
 * `npm run bench`: runs every bench/*.bench.ts in its own process, one after another,
 * so one benchmark's memory never skews another's. Each prints its own figures.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const only = process.argv[2];
const dir = __dirname;
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => !only || f.includes(only))
  .sort();
if (files.length === 0) {
  process.stderr.write(`no benchmark matches ${only ?? "*"} in ${dir}\n`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n### ${f}\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", "--expose-gc", join(dir, f)], {
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
