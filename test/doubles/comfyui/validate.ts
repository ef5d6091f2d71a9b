/**
 * The double's `POST /prompt` validation: a port of ComfyUI's `execution.py` `validate_prompt` and
 * `validate_inputs` (~L725–1070) and `comfy_execution/validation.py` `validate_node_input`, at
 * Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 (the pinned commit). Error shapes and
 * wording are ComfyUI's. What the port keeps, because clients trip over it:
 * - literals are coerced first, as Python's `int()`/`float()`/`str()`/`bool()` do (`4.5` → 4 for INT,
 *   the string `"4.5"` is an `invalid_input_type` for INT), and the coerced value replaces the input;
 *   min/max and combo membership are then checked on the coerced value, never on linked values;
 * - a link is resolved before anything is checked: a missing node raises KeyError, a missing output
 *   slot IndexError. Raised while validating an inner node, that becomes `exception_during_inner_validation`
 *   on the node holding the bad link; raised on an output node, `exception_during_validation`;
 * - type matching: exact, comma-separated unions (any overlap), `*`, and VideoHelperSuite's MultiInput
 *   types (`images` also accepts LATENT; see MULTI_TYPES);
 * - a cycle recurses until Python's RecursionError, which the caller catches; each node's outermost
 *   frame then overwrites that entry with its own errors, so the prompt is rejected and the cycle's
 *   nodes are listed only for errors of their own;
 * - the top-level `error.details` lists only the failing output nodes' own reasons; `node_errors` has
 *   every node with reasons of its own.
 * Not modelled: the Python int/float distinction of JSON numbers (`4.0` arrives here as 4).
 */
import { MULTI_TYPES, type NodeSpec } from "./nodes";

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

/** A Python exception raised while validating: its class name and `str(ex)`. */
class PyException extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `custom` plays the part of nodes' VALIDATE_INPUTS (LoadImage's "does the file exist"); as in ComfyUI,
 * an input with a custom validator skips the min/max and combo checks. Literal inputs are coerced in
 * place, as ComfyUI does (`inputs[x] = val`), so the queued prompt carries the coerced values.
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
  /** Nodes whose validation is on the stack: re-entering one is Python's endless recursion. */
  const active = new Set<string>();
  const visit = (id: string): boolean => {
    const seen = validated.get(id);
    if (seen) return seen.ok;
    if (active.has(id)) {
      throw new PyException("RecursionError", "maximum recursion depth exceeded");
    }
    active.add(id);
    try {
      return visitInputs(id);
    } finally {
      active.delete(id);
    }
  };
  const visitInputs = (id: string): boolean => {
    const node = prompt[id] as { class_type: string; inputs?: Record<string, unknown> };
    const spec = specs[node.class_type] as NodeSpec;
    node.inputs ??= {};
    const inputs = node.inputs;
    const errors: ComfyError[] = [];
    let ok = true;
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
      let value = inputs[name];
      const [type, opts = {}] = def as [unknown, Record<string, unknown>?];
      const info = [type, opts];
      if (Array.isArray(value)) {
        if (value.length !== 2) {
          errors.push(
            err(
              "bad_linked_input",
              "Bad linked input, must be a length-2 list of [node_id, slot_index]",
              name,
              { input_name: name, input_config: info, received_value: value },
            ),
          );
          continue;
        }
        const [from, slot] = value as [unknown, unknown];
        const received = linkedType(prompt, specs, from, slot);
        if (!typesMatch(received, type, MULTI_TYPES[node.class_type]?.inputs?.[name])) {
          errors.push(
            err(
              "return_type_mismatch",
              "Return type mismatch between linked nodes",
              `${name}, received_type(${received.type}) mismatch input_type(${pyStr(type)})`,
              {
                input_name: name,
                input_config: info,
                received_type: received.type,
                linked_node: value,
              },
            ),
          );
          continue;
        }
        try {
          if (!visit(String(from))) ok = false;
        } catch (e) {
          if (!(e instanceof PyException)) throw e;
          ok = false;
          validated.set(String(from), {
            ok: false,
            errors: [
              err(
                "exception_during_inner_validation",
                "Exception when validating inner node",
                e.message,
                {
                  input_name: name,
                  input_config: info,
                  exception_message: e.message,
                  exception_type: e.pyType,
                  traceback: [],
                  linked_node: value,
                },
              ),
            ],
          });
        }
        continue;
      }
      if (value !== null && typeof value === "object" && "__value__" in value) {
        value = (value as { __value__: unknown }).__value__;
        inputs[name] = value;
      }
      let coerced: unknown;
      try {
        coerced = coerce(type, value);
      } catch (e) {
        if (!(e instanceof PyException)) throw e;
        errors.push(
          err(
            "invalid_input_type",
            `Failed to convert an input value to a ${type} value`,
            `${name}, ${pyStr(value)}, ${e.message}`,
            {
              input_name: name,
              input_config: info,
              received_value: value,
              exception_message: e.message,
            },
          ),
        );
        continue;
      }
      inputs[name] = coerced;
      const validator = custom[node.class_type]?.[name];
      if (validator) {
        const extra = validator(coerced);
        if (extra) {
          errors.push(
            err(
              "custom_validation_failed",
              "Custom validation failed for node",
              `${name} - ${extra}`,
              {
                input_name: name,
              },
            ),
          );
        }
        continue;
      }
      const problem = checkLiteral(
        name,
        type,
        opts,
        coerced,
        info,
        !!MULTI_TYPES[node.class_type]?.inputs?.[name],
      );
      if (problem) errors.push(problem);
    }
    const result = { ok: ok && errors.length === 0, errors };
    validated.set(id, result);
    return result.ok;
  };

  const good: string[] = [];
  const nodeErrors: NodeErrors = {};
  const reasons: string[] = [];
  for (const o of outputs) {
    let valid: boolean;
    let own: ComfyError[] = [];
    try {
      valid = visit(o);
      own = validated.get(o)?.errors ?? [];
    } catch (e) {
      if (!(e instanceof PyException)) throw e;
      valid = false;
      own = [
        err("exception_during_validation", "Exception when validating node", e.message, {
          exception_type: e.pyType,
          traceback: [],
        }),
      ];
      validated.set(o, { ok: false, errors: own });
    }
    if (valid) {
      good.push(o);
      continue;
    }
    // Only the output node's own reasons reach the top-level details (validate_prompt's `errors`).
    for (const e of own) reasons.push(`${e.message}: ${e.details}`);
    for (const [id, r] of validated) {
      // Downstream nodes of a bad node are invalid without reasons of their own; ComfyUI leaves them out.
      if (r.ok || r.errors.length === 0) continue;
      nodeErrors[id] ??= {
        errors: r.errors,
        dependent_outputs: [],
        class_type: String(prompt[id]?.class_type),
      };
      nodeErrors[id].dependent_outputs.push(o);
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

/**
 * `prompt[o_id]['class_type']` then `RETURN_TYPES[val[1]]`, raising as Python does: KeyError for a
 * missing node, TypeError for a non-integer slot, IndexError past the last output (negative slots
 * count from the end, as Python indexing does).
 */
function linkedType(
  prompt: Prompt,
  specs: Record<string, NodeSpec>,
  from: unknown,
  slot: unknown,
): { type: string; accepts?: string[] } {
  const source = typeof from === "string" ? prompt[from] : undefined;
  if (!source) throw new PyException("KeyError", pyRepr(from));
  const cls = source.class_type as string;
  const out = (specs[cls] as NodeSpec).output;
  if (typeof slot !== "number" || !Number.isInteger(slot)) {
    throw new PyException(
      "TypeError",
      `tuple indices must be integers or slices, not ${pyTypeName(slot)}`,
    );
  }
  const index = slot < 0 ? out.length + slot : slot;
  const type = out[index];
  if (type === undefined) throw new PyException("IndexError", "tuple index out of range");
  return { type, accepts: MULTI_TYPES[cls]?.outputs?.[index] };
}

/**
 * `validate_node_input(received_type, input_type)` (non-strict): equal, or overlapping comma-separated
 * sets. A MultiInput (VHS) on either side compares by its allowed list, and `*` matches anything
 * (MultiInput.__ne__; AnyType-style classes do the same).
 */
export function typesMatch(
  received: { type: string; accepts?: string[] },
  inputType: unknown,
  inputAccepts?: string[],
): boolean {
  if (typeof inputType !== "string") return false;
  if (received.type === "*" || inputType === "*") return true;
  if (inputAccepts?.includes(received.type)) return true;
  if (received.accepts?.includes(inputType)) return true;
  if (received.type === inputType) return true;
  const split = (t: string) => new Set(t.split(",").map((s) => s.trim()));
  const want = split(inputType);
  return [...split(received.type)].some((t) => want.has(t));
}

/** `int(val)` / `float(val)` / `str(val)` / `bool(val)` for INT, FLOAT, STRING, BOOLEAN inputs. */
function coerce(type: unknown, value: unknown): unknown {
  if (type === "INT") return pyInt(value);
  if (type === "FLOAT") return pyFloat(value);
  if (type === "STRING") return pyStr(value);
  if (type === "BOOLEAN") return pyBool(value);
  return value;
}

function pyInt(v: unknown): number {
  if (typeof v === "number") return Math.trunc(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string") {
    const s = v.trim();
    if (/^[+-]?\d+(_\d+)*$/.test(s)) return Number(s.replaceAll("_", ""));
    throw new PyException("ValueError", `invalid literal for int() with base 10: ${pyRepr(v)}`);
  }
  throw new PyException(
    "TypeError",
    `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(v)}'`,
  );
}

function pyFloat(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string") {
    const s = v.trim();
    const digits = String.raw`\d+(?:_\d+)*`;
    const decimal = new RegExp(
      `^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`,
    );
    if (decimal.test(s)) return Number(s.replaceAll("_", ""));
    const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
    if (special) {
      if (special[2]?.toLowerCase() === "nan") return Number.NaN;
      return special[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    }
    throw new PyException("ValueError", `could not convert string to float: ${pyRepr(v)}`);
  }
  throw new PyException(
    "TypeError",
    `float() argument must be a string or a real number, not '${pyTypeName(v)}'`,
  );
}

function pyBool(v: unknown): boolean {
  if (v === null || v === false || v === 0 || v === "") return false;
  if (typeof v === "object" && Object.keys(v as object).length === 0) return false;
  return true;
}

function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "string") return "str";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (Array.isArray(v)) return "list";
  return "dict";
}

/** Python's repr() of a JSON value (strings quoted as Python quotes them). */
export function pyRepr(v: unknown): string {
  if (typeof v === "string") {
    const esc = v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll("\t", "\\t");
    if (v.includes("'") && !v.includes('"')) return `"${esc}"`;
    return `'${esc.replaceAll("'", "\\'")}'`;
  }
  return pyStr(v);
}

/** Python's str() of a JSON value. */
export function pyStr(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  return `{${Object.entries(v as object)
    .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
    .join(", ")}}`;
}

/** A float as Python prints it: `1.0`, `0.5`, `1e+16`. */
export function pyFloatStr(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  const abs = Math.abs(n);
  // repr() switches to exponent form below 1e-4 and from 1e16, with at least two exponent digits.
  if (abs >= 1e16 || (abs < 1e-4 && n !== 0)) {
    return n.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  }
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

function checkLiteral(
  name: string,
  type: unknown,
  opts: Record<string, unknown>,
  value: unknown,
  info: unknown[],
  intBounds: boolean,
): ComfyError | undefined {
  const detail = { input_name: name, input_config: info, received_value: value };
  if (typeof value === "number") {
    // Python formats the coerced float as a float; the spec's bounds print as their literals were
    // written (floats for FLOAT inputs, except VHS's floatOrInt ones, written as ints).
    const show = (n: number, float: boolean) => (float ? pyFloatStr(n) : String(n));
    const isFloat = type === "FLOAT";
    if (typeof opts.min === "number" && value < opts.min) {
      return err(
        "value_smaller_than_min",
        `Value ${show(value, isFloat)} smaller than min of ${show(opts.min, isFloat && !intBounds)}`,
        name,
        detail,
      );
    }
    if (typeof opts.max === "number" && value > opts.max) {
      return err(
        "value_bigger_than_max",
        `Value ${show(value, isFloat)} bigger than max of ${show(opts.max, isFloat && !intBounds)}`,
        name,
        detail,
      );
    }
  }
  if (Array.isArray(type) && !type.includes(value)) {
    // ComfyUI prints short lists and summarises long ones, then omits input_config.
    const listInfo =
      type.length > 20 ? `(list of length ${type.length})` : `[${type.map(pyRepr).join(", ")}]`;
    return err(
      "value_not_in_list",
      "Value not in list",
      `${name}: '${pyStr(value)}' not in ${listInfo}`,
      {
        input_name: name,
        input_config: type.length > 20 ? null : info,
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
