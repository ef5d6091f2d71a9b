/**
 * Differences between a real server's `/object_info` (captured by bench/gpu/comfyui_smoke.py on a GPU
 * machine, from ComfyUI and the nodes at the pinned commits) and the double's node specs (nodes.ts).
 * Pure: the caller reads the capture and builds the specs with the capture run's files.
 *
 * Object key order carries no meaning in JSON and is not compared; array order is (combo lists,
 * input_order, outputs). Keys that nodes.ts leaves out on purpose are skipped by name, each with its
 * reason, so a new kind of difference is never hidden.
 */

/** Keys the double omits on purpose (nodes.ts header): no client of the double reads them. */
export const OMITTED_KEYS: Readonly<Record<string, string>> = {
  tooltip: "nodes.ts leaves tooltips out: no client reads them",
  description: "nodes.ts leaves descriptions out: no client reads them",
  output_tooltips: "V3 tooltips: nodes.ts sends one null per output, the server may send text",
};

export interface ObjectInfoDifference {
  node: string;
  /** JSON path inside the node's entry, e.g. `input.required.width[1].max`; "" for the node itself. */
  path: string;
  kind: "only-in-server" | "only-in-double" | "differs";
  server?: unknown;
  double?: unknown;
}

export function diffObjectInfo(
  server: Record<string, unknown>,
  double: Record<string, unknown>,
  nodes: readonly string[],
  omitted: Readonly<Record<string, string>> = OMITTED_KEYS,
): ObjectInfoDifference[] {
  const out: ObjectInfoDifference[] = [];
  for (const node of nodes) {
    const s = server[node];
    const d = double[node];
    if (s === undefined && d === undefined) {
      out.push({ node, path: "", kind: "differs", server: s, double: d });
    } else if (d === undefined) {
      out.push({ node, path: "", kind: "only-in-server", server: s });
    } else if (s === undefined) {
      out.push({ node, path: "", kind: "only-in-double", double: d });
    } else {
      walk(node, "", s, d, omitted, out);
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function walk(
  node: string,
  path: string,
  s: unknown,
  d: unknown,
  omitted: Readonly<Record<string, string>>,
  out: ObjectInfoDifference[],
): void {
  if (isObject(s) && isObject(d)) {
    for (const key of new Set([...Object.keys(s), ...Object.keys(d)])) {
      if (key in omitted) continue;
      const p = path ? `${path}.${key}` : key;
      if (!(key in d)) out.push({ node, path: p, kind: "only-in-server", server: s[key] });
      else if (!(key in s)) out.push({ node, path: p, kind: "only-in-double", double: d[key] });
      else walk(node, p, s[key], d[key], omitted, out);
    }
    return;
  }
  if (Array.isArray(s) && Array.isArray(d)) {
    // A combo list is compared whole: one entry naming both lists reads better than one per index.
    if (
      s.length !== d.length ||
      s.every((x) => typeof x === "string") !== d.every((x) => typeof x === "string")
    ) {
      out.push({ node, path, kind: "differs", server: s, double: d });
      return;
    }
    if (s.length > 0 && s.every((x) => typeof x === "string")) {
      if (s.some((x, i) => x !== d[i]))
        out.push({ node, path, kind: "differs", server: s, double: d });
      return;
    }
    s.forEach((x, i) => {
      walk(node, `${path}[${i}]`, x, d[i], omitted, out);
    });
    return;
  }
  if (!Object.is(s, d)) out.push({ node, path, kind: "differs", server: s, double: d });
}

/** One line per difference, for a failing test's message or RESULTS.md. */
export function formatDifferences(diffs: readonly ObjectInfoDifference[]): string {
  return diffs
    .map((x) => {
      const at = `${x.node}${x.path ? `.${x.path}` : ""}`;
      if (x.kind === "only-in-server")
        return `${at}: only the server has ${JSON.stringify(x.server)}`;
      if (x.kind === "only-in-double")
        return `${at}: only the double has ${JSON.stringify(x.double)}`;
      return `${at}: server ${JSON.stringify(x.server)}, double ${JSON.stringify(x.double)}`;
    })
    .join("\n");
}
