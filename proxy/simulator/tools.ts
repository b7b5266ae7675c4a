/**
 * When the simulated model calls a tool, shared by /v1/chat/completions and
 * /v1/responses. Agents run a loop "call the model, run the tools it asks for,
 * send the results back" until the model answers in text, so the rule must
 * end by itself. It is deterministic and deliberately simple:
 *
 * 1. No function tools, or `tool_choice: "none"`: a text reply.
 * 2. The last message is a tool result (a `tool` message, or a
 *    `function_call_output` input item): a text reply quoting it
 *    ("Tool result: …"), whatever `tool_choice` says. This is what stops loops.
 * 3. `tool_choice` names a function: that function. `"required"`: the tool
 *    the last user message asks for, else the first tool.
 * 4. Otherwise (`"auto"`): a tool is called when the last user message asks
 *    for it, i.e. contains its name or a word of its name of four or more
 *    letters (names split at `_`, `-`, `.` and camelCase, so "Weather in
 *    Paris?" asks for `get_weather`, "use the shell" for `run_shell_command`,
 *    and "look up" matches `lookup`). The tool with the most matching words
 *    wins, then the one listed first. No match: a text reply.
 *
 * Arguments: a JSON object written in the last user message (from its first
 * `{` to its last `}`; in a message that is one JSON string literal, as
 * OpenCode sends it, inside that string) is sent as the arguments as it is; otherwise each
 * required parameter gets a placeholder of its schema type ("sim-<name>" for
 * strings and untyped ones, 1, true, [] or {}).
 */
import type { JsonObject } from './http.js';

/** A function tool, from either wire shape (chat's `{function: {...}}` or the Responses API's flat one). */
export interface ToolDef {
  readonly name: string;
  readonly parameters: JsonObject | undefined;
}

export interface ToolCall {
  readonly name: string;
  readonly arguments: string;
}

const obj = (v: unknown): JsonObject | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined);

/** The function tools of a request; other kinds (web_search, custom, …) are ignored. */
export function functionTools(tools: unknown): ToolDef[] {
  if (!Array.isArray(tools)) return [];
  const out: ToolDef[] = [];
  for (const t of tools) {
    const o = obj(t);
    if (!o || (o.type !== undefined && o.type !== 'function')) continue;
    const fn = obj(o.function) ?? o;
    if (typeof fn.name === 'string' && fn.name !== '') out.push({ name: fn.name, parameters: obj(fn.parameters) });
  }
  return out;
}

/** The words a tool name is made of: `run_shell_command` → run, shell, command; `getWeather` → get, weather. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length >= 4);
}

/** The words of a message, plus each pair of neighbours run together ("look up" → lookup). */
function messageWords(text: string): Set<string> {
  const words = text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  const set = new Set(words);
  for (let i = 0; i + 1 < words.length; i++) set.add(`${words[i]}${words[i + 1]}`);
  return set;
}

/** The tool the text asks for (rule 4), or undefined. */
export function askedFor(tools: readonly ToolDef[], text: string): ToolDef | undefined {
  const lower = text.toLowerCase();
  const words = messageWords(text);
  let best: ToolDef | undefined;
  let bestScore = 0;
  for (const t of tools) {
    const exact = new RegExp(`(^|[^a-z0-9_])${t.name.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^a-z0-9_])`).test(lower);
    const score = exact ? 1000 : nameWords(t.name).filter((w) => words.has(w)).length;
    if (score > bestScore) {
      best = t;
      bestScore = score;
    }
  }
  return best;
}

function placeholder(name: string, schema: JsonObject | undefined): unknown {
  const type = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  switch (type) {
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return `sim-${name}`;
  }
}

/** Some agents (OpenCode) send the user's text as a JSON string literal: the text inside it. */
function unquoted(text: string): string {
  const t = text.trim();
  if (t.length < 2 || !t.startsWith('"') || !t.endsWith('"')) return text;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === 'string' ? v : text;
  } catch {
    return text;
  }
}

/** The arguments sent for `tool`, as a JSON string (see the file comment). */
export function argumentsFor(tool: ToolDef, raw: string): string {
  const text = unquoted(raw);
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start >= 0 && end > start) {
    try {
      const parsed: unknown = JSON.parse(text.slice(start, end + 1));
      if (obj(parsed)) return JSON.stringify(parsed);
    } catch {
      // Not JSON: placeholders below.
    }
  }
  const params = tool.parameters;
  const props = obj(params?.properties);
  const required = Array.isArray(params?.required) ? params.required : [];
  const args: Record<string, unknown> = {};
  for (const p of required) if (typeof p === 'string') args[p] = placeholder(p, obj(props?.[p]));
  return JSON.stringify(args);
}

/** Rules 1–4 of the file comment: the call to make, or undefined for a text reply. */
export function decideToolCall(tools: readonly ToolDef[], choice: unknown, lastUser: string, lastIsToolResult: boolean): ToolCall | undefined {
  if (tools.length === 0 || choice === 'none' || lastIsToolResult) return undefined;
  const c = obj(choice);
  const named = obj(c?.function)?.name ?? (c?.type === 'function' ? c.name : undefined);
  let tool: ToolDef | undefined;
  if (typeof named === 'string') tool = tools.find((t) => t.name === named) ?? tools[0];
  else if (choice === 'required' || choice === 'any') tool = askedFor(tools, lastUser) ?? tools[0];
  else tool = askedFor(tools, lastUser);
  return tool && { name: tool.name, arguments: argumentsFor(tool, lastUser) };
}

/** Longest tool output quoted back, so a large file read does not make a large (costly) reply. */
const QUOTE_CHARS = 200;

/** The text reply after a tool result (rule 2). */
export function toolResultReply(output: string): string {
  const flat = output.replace(/\s+/g, ' ').trim();
  return `Tool result: ${flat.length > QUOTE_CHARS ? `${flat.slice(0, QUOTE_CHARS)}…` : flat}`;
}
