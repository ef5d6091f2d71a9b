/**
 * A `vace` with only the `models` command, for the image's models stage. That stage copies just
 * this, the fetcher and docker/models.json, and points the `vace` npm script here, so contract 5's
 * exact command runs there while an edit anywhere else in the repository (infra, smoke, the rest of
 * the CLI) leaves the 11 GB download layer cached. cli/index.ts would pull all of those in.
 * Exit codes and error handling are the full CLI's (cli/run.ts).
 */
import { registerModels } from "../models";
import { newProgram, runIfMain } from "../run";

export function buildModelsProgram() {
  const program = newProgram("wan-vace model files (the image build's subset of vace)");
  registerModels(program);
  return program;
}

runIfMain(module, buildModelsProgram);
