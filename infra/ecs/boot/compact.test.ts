/**
 * Dropping comment lines must not change what any boot file does. Per kind of file:
 * - Python: the same AST as the original (a dropped line inside a string would change it);
 * - shell: no quoted string spans a line in the original (so every dropped line was a comment),
 *   and the compacted file still parses (`bash -n`) and passes shellcheck;
 * - systemd units: the same settings, section by section.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../../test/binaries";
import { compactBootFile, withoutCommentLines, withoutDocstrings } from "./compact";
import { BOOT_FILES, readBootFile } from "./files";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "vace-compact-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ofKind = (ext: RegExp) => BOOT_FILES.filter((f) => ext.test(f.source));

/** Lines (1-based) where a shell quote is still open at the end: a string spanning lines. */
function openQuoteLines(text: string): number[] {
  const open: number[] = [];
  let quote: "'" | '"' | null = null;
  for (const [n, line] of text.split("\n").entries()) {
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quote === "'") {
        if (c === "'") quote = null;
      } else if (c === "\\") {
        i++;
      } else if (quote === '"') {
        if (c === '"') quote = null;
      } else if (c === "'" || c === '"') {
        quote = c;
      } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1] ?? ""))) {
        break;
      }
    }
    if (quote) open.push(n + 1);
  }
  return open;
}

/** A unit's settings as [section, key, value] in order (comments and blank lines ignored). */
function unitSettings(text: string): string[][] {
  let section = "";
  const out: string[][] = [];
  for (const line of text.replace(/\\\n/g, " ").split("\n")) {
    const t = line.trim();
    if (!t || t.startsWith("#") || t.startsWith(";")) continue;
    if (t.startsWith("[")) section = t;
    else out.push([section, t]);
  }
  return out;
}

describe("withoutCommentLines", () => {
  it("drops full-line comments only, keeping the first line, shellcheck directives and continued lines", () => {
    const text = [
      "#!/bin/sh",
      "# about",
      "# shellcheck disable=SC2016",
      "echo a # stays",
      "  # indented",
      "ls \\",
      "# continued",
      "echo b",
      "",
    ].join("\n");
    expect(withoutCommentLines(text)).toBe(
      [
        "#!/bin/sh",
        "# shellcheck disable=SC2016",
        "echo a # stays",
        "ls \\",
        "# continued",
        "echo b",
        "",
      ].join("\n"),
    );
  });

  it("drops Python docstrings, one-line and multi-line, and nothing else", () => {
    const text = [
      '"""Module."""',
      "def f():",
      '    """Does',
      '    things."""',
      "    return 1",
      'x = """kept"""',
      "",
    ];
    expect(withoutDocstrings(text.join("\n"))).toBe(
      ["def f():", "    return 1", 'x = """kept"""', ""].join("\n"),
    );
  });

  it("keeps every Python boot file's AST, less its docstrings", async () => {
    requireBinary("python3");
    // Docstrings are the first statement of a module, class or function body that is a string.
    const check = [
      "import ast,sys",
      "def bare(t):",
      " for n in ast.walk(t):",
      "  b=getattr(n,'body',None)",
      "  if isinstance(b,list) and b and isinstance(b[0],ast.Expr) and isinstance(b[0].value,ast.Constant) and isinstance(b[0].value.value,str): del b[0]",
      " return ast.dump(t)",
      "for a,b in zip(sys.argv[1::2],sys.argv[2::2]):",
      " assert bare(ast.parse(open(a).read()))==ast.dump(ast.parse(open(b).read())),a",
      "",
    ].join("\n");
    const args = ofKind(/\.py$/).flatMap((f) => {
      const compact = join(dir, f.source.replace(/\//g, "_"));
      writeFileSync(compact, compactBootFile(f.source, readBootFile(f.source)));
      return [join(__dirname, "files", f.source), compact];
    });
    expect(args.length).toBeGreaterThanOrEqual(8);
    await run("python3", ["-c", check, ...args]);
  });

  it("leaves every shell boot file parsing and shellcheck-clean, with no string spanning lines", async () => {
    const shellcheck = requireBinary("shellcheck");
    for (const f of ofKind(/\.sh$/)) {
      const original = readBootFile(f.source);
      expect(openQuoteLines(original), f.source).toEqual([]);
      const compact = join(dir, f.source);
      writeFileSync(compact, withoutCommentLines(original));
      await run("bash", ["-n", compact]);
      await run(shellcheck, [compact]);
    }
    expect(openQuoteLines("echo 'a\n# b'\n")).toEqual([1]);
  });

  it("keeps every systemd unit's settings", () => {
    const units = BOOT_FILES.filter((f) => f.source.startsWith("systemd/"));
    expect(units.length).toBeGreaterThan(5);
    for (const f of units) {
      const text = readBootFile(f.source);
      expect(unitSettings(withoutCommentLines(text)), f.source).toEqual(unitSettings(text));
    }
  });
});
