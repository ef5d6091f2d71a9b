/**
 * User-data is capped at 16 KB gzipped (index.ts) and the boot files' comments are about a sixth
 * of it (Python's docstrings another eighth). They stay in the repository, where the files are read, linted and tested; the instance
 * gets each file without its full-line comments. Nothing else changes: a comment line is dropped
 * only where it cannot be part of a statement (compact.test.ts proves it per file: the same Python
 * AST, no shell string spanning lines, the same systemd settings).
 */

/**
 * `text` without lines whose first non-blank character is `#`. The first line (a shebang) and
 * shellcheck directives stay, so the user-data's scripts are linted exactly as written.
 */
export function withoutCommentLines(text: string): string {
  const out: string[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    // After a backslash the next line continues the previous one (shell, systemd): keep it.
    const continued = out.at(-1)?.endsWith("\\") ?? false;
    const comment = line.trimStart().startsWith("#") && !/^\s*# shellcheck /.test(line);
    if (i > 0 && !continued && comment) continue;
    out.push(line);
  }
  return out.join("\n");
}

/**
 * Python without its docstrings: lines from one starting with `"""` to the one ending with it.
 * A docstring is a statement of its own, so such lines hold nothing else (compact.test.ts proves
 * it per file: the AST equals the original's less its docstrings).
 */
export function withoutDocstrings(text: string): string {
  const out: string[] = [];
  let inside = false;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (inside) {
      inside = !t.endsWith('"""');
      continue;
    }
    if (t.startsWith('"""')) {
      inside = !(t.length >= 6 && t.endsWith('"""'));
      continue;
    }
    out.push(line);
  }
  return out.join("\n");
}

/** What the instance gets of a boot file: no comment lines, and no docstrings in Python. */
export function compactBootFile(source: string, text: string): string {
  const compact = withoutCommentLines(text);
  return source.endsWith(".py") ? withoutDocstrings(compact) : compact;
}
