/**
 * What `vace e2e --out DIR` leaves behind (design.md contract 7): report.json (the lifecycle, with
 * the smoke's own report inside), junit.xml (deploy, smoke, teardown), spend.json, and the video the
 * smoke wrote. Pure renderings of one E2eResult; never the token.
 */
import { XMLBuilder } from "fast-xml-parser";
import type { E2eResult } from "./e2e";

export function e2eReport(r: E2eResult) {
  return {
    ok: r.exitCode === 0,
    exitCode: r.exitCode,
    stack: r.stack,
    interrupted: r.interrupted,
    deploy: r.deploy,
    smoke: r.smoke
      ? { ok: r.smoke.ok, summary: r.smoke.summary, report: r.smoke.report ?? null }
      : null,
    teardown: r.kept
      ? { kept: true }
      : {
          ok: r.teardown?.ok ?? false,
          attempts: r.teardown?.attempts ?? 0,
          destroyedAt: r.teardown?.destroyedAt?.toISOString() ?? null,
          remaining: r.teardown?.remaining ?? [],
        },
    spend: r.spend,
  };
}

type Case = Record<string, unknown>;

/** Control characters XML 1.0 cannot carry. */
const clean = (s: string) => s.replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/gu, "?");

export function renderE2eJUnit(r: E2eResult): string {
  const fail = (message: string, type: string) => ({
    "@_message": clean(message),
    "@_type": type,
    "#text": clean(message),
  });
  const deploy: Case = { "@_classname": "vace.e2e", "@_name": "deploy" };
  if (!r.deploy.ok) deploy.error = fail(r.deploy.error ?? "deploy failed", "deploy");
  const smoke: Case = { "@_classname": "vace.e2e", "@_name": "smoke" };
  if (!r.deploy.ok) smoke.skipped = { "@_message": "not reached: deploy failed" };
  else if (!r.smoke) smoke.error = fail("interrupted before the smoke finished", "interrupted");
  else if (!r.smoke.ok) smoke.failure = fail(r.smoke.summary, "smoke");
  const down: Case = { "@_classname": "vace.e2e", "@_name": "teardown: destroy, nothing left" };
  if (r.kept) down.skipped = { "@_message": "--keep: the stack was kept" };
  else if (!r.teardown?.ok) down.error = fail((r.teardown?.remaining ?? []).join("\n"), "teardown");
  const cases = [deploy, smoke, down];
  const count = (k: string) => String(cases.filter((c) => c[k]).length);
  const doc = {
    "?xml": { "@_version": "1.0", "@_encoding": "UTF-8" },
    testsuites: {
      testsuite: {
        "@_name": `vace e2e ${r.stack}`,
        "@_tests": String(cases.length),
        "@_failures": count("failure"),
        "@_errors": count("error"),
        "@_skipped": count("skipped"),
        properties: {
          property: [
            { "@_name": "exit_code", "@_value": String(r.exitCode) },
            { "@_name": "spend_total", "@_value": String(r.spend.total ?? "unknown") },
            { "@_name": "currency", "@_value": String(r.spend.currency ?? "") },
          ],
        },
        testcase: cases,
      },
    },
  };
  const xml = new XMLBuilder({ ignoreAttributes: false, format: true, suppressEmptyNode: true });
  return xml.build(doc) as string;
}
