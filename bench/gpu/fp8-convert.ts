/**
 * The image build's FP8 converter (`vace models fp8`, cli/models/convert.ts) on one file, for the GPU
 * check bench/gpu/fp8_load.py: `vace models fp8` itself converts only the manifest's verified download,
 * and that check needs it on a random-weight file. `comfyui_smoke.py prep tools` bundles this for node.
 * Prints the conversion result as JSON; exit 1 on a failed conversion, 2 on usage.
 */
import { convertFile } from "../../cli/models/convert";

const [src, dst] = process.argv.slice(2);
if (!src || !dst) {
  process.stderr.write("usage: fp8-convert SRC.safetensors DST.safetensors\n");
  process.exit(2);
}
convertFile(src, dst).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (err: Error) => {
    process.stderr.write(`fp8-convert: ${err.message}\n`);
    process.exit(1);
  },
);
