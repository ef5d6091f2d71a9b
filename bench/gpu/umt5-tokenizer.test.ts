/**
 * The umT5 tokenizer the GPU smoke writes into the text encoder's "spiece_model" tensor
 * (bench/gpu/model_files.py spiece_proto): loaded by the real sentencepiece library the way ComfyUI's
 * SPieceTokenizer loads it (model_proto bytes, add_eos), with umT5's size and special ids, and the
 * empty-string encoding SDTokenizer reads its end token from.
 */
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";

const PROBE = `
import json, sys
sys.path.insert(0, sys.argv[1])
import sentencepiece, model_files
p = sentencepiece.SentencePieceProcessor(model_proto=model_files.spiece_proto(), add_bos=False, add_eos=True)
text = "A girl secretly takes a bite of an apple. 一个女孩偷偷咬了一口苹果"
ids = p.encode(text)
print(json.dumps({"size": p.get_piece_size(), "pad": p.pad_id(), "eos": p.eos_id(), "unk": p.unk_id(),
  "bos": p.bos_id(), "empty": p.encode(""), "ids": ids, "decoded": p.decode(ids)}))
`;

/** A python3 that can import sentencepiece: the one on PATH, else Debian's (CI installs it there). */
function pythonWithSentencepiece(): string {
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    const r = spawnSync(candidate, ["-c", "import sentencepiece"], { encoding: "utf8" });
    if (r.status === 0) return candidate;
  }
  throw new Error(
    "no python3 here imports sentencepiece, and this test loads the tokenizer with the real library. " +
      "Install it with: sudo apt-get install -y python3-sentencepiece   (or run 'bash .ci/run', which installs it)",
  );
}

let python: string;
beforeAll(() => {
  python = pythonWithSentencepiece();
});

describe("the made umT5 tokenizer", () => {
  it("loads in sentencepiece with umT5's vocabulary size and ids, and round-trips English and Chinese text", () => {
    const r = spawnSync(python, ["-c", PROBE, __dirname], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got).toMatchObject({ size: 256384, pad: 0, eos: 1, unk: 2, bos: -1, empty: [1] });
    // umT5's eos ends every encoding (SDTokenizer takes its end token from encode("")); byte fallback
    // covers characters that are no piece, so nothing becomes <unk> and decoding gives the text back.
    expect(got.ids.at(-1)).toBe(1);
    expect(got.ids).not.toContain(2);
    expect(Math.max(...got.ids)).toBeLessThan(256384);
    expect(got.decoded).toBe("A girl secretly takes a bite of an apple. 一个女孩偷偷咬了一口苹果");
  });
});
