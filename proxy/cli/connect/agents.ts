/**
 * Each agent's own configuration for the sidecar, merged into the file the
 * agent reads (parsed and re-serialised with a real parser, never patched as
 * text), or printed as the lines to paste or eval.
 *
 * No config file holds the token's secret: the agents read it from
 * SKILLBOSS_API_KEY (which `skillboss-sidecar env --token ID` prints from the
 * token's env sink, rewritten at every rotation), except Claude Code, whose
 * `apiKeyHelper` reads the env sink itself.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { isMap, isSeq, parseDocument, YAMLMap } from 'yaml';
import { envSetting } from '../../core/env.js';

export const AGENTS = ['codex', 'opencode', 'continue', 'qwen', 'claude', 'cursor', 'openai'] as const;
export type Agent = (typeof AGENTS)[number];

/** The variable the written configs read the secret from. */
export const KEY_VAR = 'SKILLBOSS_API_KEY';
export const PROVIDER_ID = 'skillboss';
const PROVIDER_NAME = 'SkillBoss Sidecar';

export interface ConnectInput {
  /** The sidecar's agent base URL, ending in /v1. */
  baseUrl: string;
  model: string;
  /** Claude Code's model for background calls (titles, summaries); `model` where not set. */
  smallModel?: string;
  /** The token's env sink (.env file with the secret). */
  envFile: string;
}

export interface FileTarget {
  readonly kind: 'file';
  /** Where the agent reads it by default. */
  defaultPath: (home?: string) => string;
  /** The new file text, given the current one (null: no file yet). Throws ConfigParseError on a file it cannot read. */
  merge: (current: string | null, c: ConnectInput) => string;
}

export interface PrintTarget {
  readonly kind: 'print';
  /** The variables the agent reads, for export lines. */
  env?: (c: ConnectInput, secret: string) => Record<string, string>;
  /** Text for the human to paste into the agent's settings. */
  text?: (c: ConnectInput, secret: string) => string;
}

export class ConfigParseError extends Error {
  override name = 'ConfigParseError';
}

const asObject = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Codex CLI: a model provider in ~/.codex/config.toml on the Responses API. */
export const codex: FileTarget = {
  kind: 'file',
  defaultPath: (home = homedir()) => join(envSetting('CODEX_HOME') ?? join(home, '.codex'), 'config.toml'),
  merge(current, c) {
    let doc: Record<string, unknown>;
    try {
      doc = current ? (parseToml(current) as Record<string, unknown>) : {};
    } catch (err) {
      throw new ConfigParseError(`not valid TOML: ${(err as Error).message.split('\n')[0]}`);
    }
    // Top-level keys must come before any table in TOML; smol-toml orders them so.
    doc.model = c.model;
    doc.model_provider = PROVIDER_ID;
    const providers = asObject(doc.model_providers);
    providers[PROVIDER_ID] = { name: PROVIDER_NAME, base_url: c.baseUrl, env_key: KEY_VAR, wire_api: 'responses' };
    doc.model_providers = providers;
    return `${stringifyToml(doc)}\n`;
  },
};

function mergeJson(current: string | null, edit: (doc: Record<string, unknown>) => void): string {
  let doc: Record<string, unknown> = {};
  if (current && current.trim()) {
    try {
      doc = asObject(JSON.parse(current));
    } catch (err) {
      throw new ConfigParseError(`not valid JSON (comments are not merged; edit it by hand or move it aside): ${(err as Error).message}`);
    }
  }
  edit(doc);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** OpenCode: a provider through @ai-sdk/openai-compatible in opencode.json, made the default model. */
export const opencode: FileTarget = {
  kind: 'file',
  defaultPath: (home = homedir()) => join(envSetting('XDG_CONFIG_HOME') ?? join(home, '.config'), 'opencode', 'opencode.json'),
  merge: (current, c) =>
    mergeJson(current, (doc) => {
      doc.$schema ??= 'https://opencode.ai/config.json';
      const providers = asObject(doc.provider);
      const models = asObject(asObject(providers[PROVIDER_ID]).models);
      models[c.model] = { name: c.model };
      providers[PROVIDER_ID] = {
        npm: '@ai-sdk/openai-compatible',
        name: PROVIDER_NAME,
        options: { baseURL: c.baseUrl, apiKey: `{env:${KEY_VAR}}` },
        models,
      };
      doc.provider = providers;
      doc.model = `${PROVIDER_ID}/${c.model}`;
    }),
};

/** Continue (IDE extensions and the `cn` CLI): a model in ~/.continue/config.yaml; comments are kept. */
export const continueDev: FileTarget = {
  kind: 'file',
  defaultPath: (home = homedir()) => join(home, '.continue', 'config.yaml'),
  merge(current, c) {
    const doc = parseDocument(current && current.trim() ? current : 'name: Local Config\nversion: 1.0.0\nschema: v1\n');
    if (doc.errors.length > 0) throw new ConfigParseError(`not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    if (!isMap(doc.contents)) throw new ConfigParseError('the file is not a YAML mapping');
    const entry = {
      name: `${PROVIDER_NAME} ${c.model}`,
      provider: 'openai',
      model: c.model,
      apiBase: c.baseUrl,
      apiKey: `\${{ secrets.${KEY_VAR} }}`,
      roles: ['chat', 'edit', 'apply'],
      capabilities: ['tool_use'],
    };
    let models = doc.get('models');
    if (!isSeq(models)) {
      doc.set('models', doc.createNode([]));
      models = doc.get('models');
    }
    if (!isSeq(models)) throw new ConfigParseError('models is not a list');
    const node = doc.createNode(entry);
    const at = models.items.findIndex((it) => isMap(it) && (it as YAMLMap).get('name') === entry.name);
    if (at >= 0) models.items[at] = node;
    // First in the list: the model Continue (and `cn`) uses by default.
    else models.items.unshift(node);
    return doc.toString();
  },
};

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Claude Code: settings.json with the sidecar's Anthropic base URL and a key helper reading the env sink. */
export const claude: FileTarget = {
  kind: 'file',
  defaultPath: (home = homedir()) => join(envSetting('CLAUDE_CONFIG_DIR') ?? join(home, '.claude'), 'settings.json'),
  merge: (current, c) =>
    mergeJson(current, (doc) => {
      const env = asObject(doc.env);
      // The Anthropic SDK appends /v1/messages itself.
      env.ANTHROPIC_BASE_URL = anthropicBase(c.baseUrl);
      delete env.ANTHROPIC_AUTH_TOKEN;
      delete env.ANTHROPIC_API_KEY;
      // A model SkillBoss serves: Claude Code's defaults are Anthropic's own names, which 404 here.
      // ANTHROPIC_MODEL in env would win over "model", so it goes.
      delete env.ANTHROPIC_MODEL;
      Object.assign(env, smallModelEnv(c));
      doc.env = env;
      doc.model = c.model;
      // Sent as both x-api-key and Authorization: Bearer; re-read, so it follows rotations.
      // A sink that is gone (a demo's, after it stopped) fails at once with one line, not sed's error on every retry.
      doc.apiKeyHelper =
        `f=${quote(c.envFile)}; [ -r "$f" ] || { echo "skillboss-sidecar: the token file $f is gone (a demo that stopped?); run: skillboss-sidecar connect claude, or connect --undo claude" >&2; exit 1; }; ` +
        `sed -n 's/^${KEY_VAR}=//p' "$f"`;
    }),
};

export function anthropicBase(baseUrl: string): string {
  return baseUrl.replace(/\/v1\/?$/, '');
}

/** Both names: older Claude Code releases read the first, newer ones the second. */
function smallModelEnv(c: ConnectInput): Record<string, string> {
  const small = c.smallModel ?? c.model;
  return { ANTHROPIC_SMALL_FAST_MODEL: small, ANTHROPIC_DEFAULT_HAIKU_MODEL: small };
}

/** `claude` printed instead of written: the variables Claude Code reads. */
export const claudeEnv: PrintTarget = {
  kind: 'print',
  env: (c, secret) => ({ ANTHROPIC_BASE_URL: anthropicBase(c.baseUrl), ANTHROPIC_AUTH_TOKEN: secret, ANTHROPIC_MODEL: c.model, ...smallModelEnv(c) }),
};

/** Qwen Code reads the OpenAI variables (and OPENAI_MODEL). */
export const qwen: PrintTarget = {
  kind: 'print',
  env: (c, secret) => ({ OPENAI_BASE_URL: c.baseUrl, OPENAI_API_KEY: secret, OPENAI_MODEL: c.model }),
};

/** Any OpenAI SDK or tool: the variables `env` prints. */
export const openai: PrintTarget = {
  kind: 'print',
  env: (c, secret) => ({ OPENAI_BASE_URL: c.baseUrl, OPENAI_API_KEY: secret, SKILLBOSS_API_KEY: secret }),
};

/** Cursor has no config file to write: its settings, to paste. */
export const cursor: PrintTarget = {
  kind: 'print',
  text: (c, secret) =>
    [
      'Cursor Settings → Models:',
      `  OpenAI API Key:             ${secret}`,
      `  Override OpenAI Base URL:   ${c.baseUrl}`,
      `  Add model:                  ${c.model}  (and turn the other models off)`,
      '',
      'Note: Cursor sends these requests from its own servers, not from your machine, so they cannot reach',
      'a sidecar on 127.0.0.1. It works only where Cursor can reach the sidecar (see the README).',
      '',
    ].join('\n'),
};

/**
 * What `connect AGENT` writes by default (file), and what --print prints:
 * the print target, else the file's content for a fresh file.
 */
export const TARGETS: Record<Agent, { file?: FileTarget; print?: PrintTarget }> = {
  codex: { file: codex },
  opencode: { file: opencode },
  continue: { file: continueDev },
  claude: { file: claude, print: claudeEnv },
  qwen: { print: qwen },
  cursor: { print: cursor },
  openai: { print: openai },
};

/** How to start the agent once connected, for the closing note. */
export const RUN_HINT: Record<Agent, string> = {
  codex: 'codex',
  opencode: 'opencode',
  continue: 'cn   (or reload the Continue extension)',
  claude: 'claude',
  qwen: 'qwen',
  cursor: '',
  openai: '',
};
