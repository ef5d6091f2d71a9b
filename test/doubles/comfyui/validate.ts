/**
 * The double's `POST /prompt` validation: a port of the parts of ComfyUI's `execution.py`
 * (`validate_prompt`, `validate_inputs`; Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3, the pinned commit)
 * that a client can trip over. Error shapes and wording are ComfyUI's. Like the real validator it
 * checks only literals (min/max, combo membership, types), never values that arrive through links.
 */
import type { NodeSpec } from "./nodes";

export interface ComfyError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}
export interface NodeErrors {
  [id: string]: { errors: ComfyError[]; dependent_outputs: string[]; class_type: string };
}
export type Validation =
  | { ok: true; outputs: string[]; nodeErrors: NodeErrors }
  | { ok: false; error: ComfyError; nodeErrors: NodeErrors };

type Prompt = Record<string, { class_type?: string; inputs?: Record<string, unknown> }>;

/** A node's VALIDATE_INPUTS for one input: an error string, or undefined when the value is fine. */
export type CustomValidators = Record<
  string,
  Record<string, (value: unknown) => string | undefined>
>;

/**
 * `custom` plays the part of nodes' VALIDATE_INPUTS (LoadImage's "does the file exist"); as in ComfyUI,
 * an input with a custom validator skips the combo check.
 */
export function validatePrompt(
  prompt: Prompt,
  specs: Record<string, NodeSpec>,
  custom: CustomValidators,
): Validation {
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    if (!node.class_type) {
      return fail(
        "invalid_prompt",
        "Cannot execute because a node is missing the class_type property.",
        `Node ID '#${id}'`,
      );
    }
    const spec = specs[node.class_type];
    if (!spec) {
      return fail(
        "invalid_prompt",
        `Cannot execute because node ${node.class_type} does not exist.`,
        `Node ID '#${id}'`,
      );
    }
    if (spec.output_node) outputs.push(id);
  }
  if (outputs.length === 0) return fail("prompt_no_outputs", "Prompt has no outputs", "");

  const validated = new Map<string, { ok: boolean; errors: ComfyError[] }>();
  const visit = (id: string): boolean => {
    const seen = validated.get(id);
    if (seen) return seen.ok;
    const node = prompt[id];
    const spec = node?.class_type ? specs[node.class_type] : undefined;
    if (!node || !spec) return false;
    validated.set(id, { ok: true, errors: [] }); // cycles resolve as valid, as in ComfyUI 0.3.x
    const errors: ComfyError[] = [];
    let ok = true;
    const inputs = node.inputs ?? {};
    const all = { ...spec.input.required, ...(spec.input.optional ?? {}) };
    for (const [name, def] of Object.entries(all)) {
      const required = name in spec.input.required;
      if (!(name in inputs)) {
        if (required) {
          errors.push(
            err("required_input_missing", "Required input is missing", name, { input_name: name }),
          );
        }
        continue;
      }
      const value = inputs[name];
      const [type, opts = {}] = def as [unknown, Record<string, unknown>?];
      if (Array.isArray(value)) {
        const [from, slot] = value as [string, number];
        if (value.length !== 2) {
          errors.push(
            err(
              "bad_linked_input",
              "Bad linked input, must be a length-2 list of [node_id, slot_index]",
              name,
              { input_name: name },
            ),
          );
          continue;
        }
        const source = prompt[from];
        const sourceSpec = source?.class_type ? specs[source.class_type] : undefined;
        const got = sourceSpec?.output[slot];
        if (typeof type === "string" && got !== undefined && got !== type && type !== "*") {
          errors.push(
            err(
              "return_type_mismatch",
              "Return type mismatch between linked nodes",
              `${name}, received_type(${got}) mismatch input_type(${type})`,
              {
                input_name: name,
                received_type: got,
                linked_node: value,
              },
            ),
          );
          continue;
        }
        if (!visit(from)) ok = false;
        continue;
      }
      const validator = custom[node.class_type as string]?.[name];
      const problem = validator ? undefined : checkLiteral(name, type, opts, value);
      if (problem) {
        errors.push(problem);
        continue;
      }
      const extra = validator?.(value);
      if (extra) {
        errors.push(
          err(
            "custom_validation_failed",
            "Custom validation failed for node",
            `${name} - ${extra}`,
            { input_name: name },
          ),
        );
      }
    }
    const result = { ok: ok && errors.length === 0, errors };
    validated.set(id, result);
    return result.ok;
  };

  const good: string[] = [];
  const nodeErrors: NodeErrors = {};
  const reasons: string[] = [];
  for (const o of outputs) {
    if (visit(o)) {
      good.push(o);
      continue;
    }
    for (const [id, r] of validated) {
      // Downstream nodes of a bad node are invalid without reasons of their own; ComfyUI leaves them out.
      if (r.ok || r.errors.length === 0) continue;
      nodeErrors[id] ??= {
        errors: r.errors,
        dependent_outputs: [],
        class_type: String(prompt[id]?.class_type),
      };
      const entry = nodeErrors[id];
      entry.dependent_outputs.push(o);
      for (const e of r.errors) reasons.push(`${e.message}: ${e.details}`);
    }
  }
  if (good.length === 0) {
    return {
      ok: false,
      error: {
        type: "prompt_outputs_failed_validation",
        message: "Prompt outputs failed validation",
        details: reasons.join("\n"),
        extra_info: {},
      },
      nodeErrors,
    };
  }
  return { ok: true, outputs: good, nodeErrors };
}

function checkLiteral(
  name: string,
  type: unknown,
  opts: Record<string, unknown>,
  value: unknown,
): ComfyError | undefined {
  const info = { input_name: name, input_config: [type, opts], received_value: value };
  if (type === "INT" || type === "FLOAT") {
    const n =
      typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
    if (Number.isNaN(n)) {
      return err(
        "invalid_input_type",
        `Failed to convert an input value to a ${type} value`,
        `${name}, ${String(value)}`,
        info,
      );
    }
    if (typeof opts.min === "number" && n < opts.min) {
      return err(
        "value_smaller_than_min",
        `Value ${n} smaller than min of ${opts.min}`,
        name,
        info,
      );
    }
    if (typeof opts.max === "number" && n > opts.max) {
      return err("value_bigger_than_max", `Value ${n} bigger than max of ${opts.max}`, name, info);
    }
    return undefined;
  }
  if (Array.isArray(type) && !type.includes(value)) {
    // ComfyUI prints short lists and summarises long ones, then omits input_config.
    const listInfo =
      type.length > 20
        ? `(list of length ${type.length})`
        : `[${type.map((t) => `'${t}'`).join(", ")}]`;
    return err(
      "value_not_in_list",
      "Value not in list",
      `${name}: '${String(value)}' not in ${listInfo}`,
      {
        input_name: name,
        input_config: type.length > 20 ? null : [type, opts],
        received_value: value,
      },
    );
  }
  return undefined;
}

function err(
  type: string,
  message: string,
  details: string,
  extra_info: Record<string, unknown>,
): ComfyError {
  return { type, message, details, extra_info };
}

function fail(type: string, message: string, details: string): Validation {
  return { ok: false, error: { type, message, details, extra_info: {} }, nodeErrors: {} };
}
