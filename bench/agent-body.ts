/**
 * The request a coding agent really sends on every turn: a system prompt, a
 * dozen tool definitions with JSON schemas, and a long conversation in which
 * the agent read source files (tool calls and their results: real TypeScript
 * from this repository), reasoned about them and edited them. Built once,
 * deterministically from the files at this commit, to `targetBytes` (default
 * 400 KiB, ~100k cl100k tokens).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BENCH_MODEL, REPO_ROOT } from './common.js';

const TOOLS = [
  ['read_file', 'Read a file from the workspace. Returns its content with line numbers.', { path: 'string', start_line: 'integer', end_line: 'integer' }],
  ['write_file', 'Create or overwrite a file in the workspace with the given content.', { path: 'string', content: 'string' }],
  ['edit_file', 'Replace an exact, unique string in a file with another string.', { path: 'string', old_string: 'string', new_string: 'string' }],
  ['list_directory', 'List the entries of a directory, with sizes and types.', { path: 'string', recursive: 'boolean' }],
  ['search', 'Search the workspace for a regular expression; returns matching lines with file and line number.', { pattern: 'string', glob: 'string', max_results: 'integer' }],
  ['run_command', 'Run a shell command in the workspace and return its stdout, stderr and exit code.', { command: 'string', timeout_seconds: 'integer', cwd: 'string' }],
  ['run_tests', 'Run the test files given (or all) and return the failures.', { files: 'array', filter: 'string' }],
  ['git_diff', 'Show the uncommitted changes, optionally for one path.', { path: 'string', staged: 'boolean' }],
  ['git_commit', 'Commit the staged changes with a message.', { message: 'string', all: 'boolean' }],
  ['web_fetch', 'Fetch a URL and return its text content (documentation pages).', { url: 'string', max_bytes: 'integer' }],
  ['ask_user', 'Ask the human a question and wait for the answer.', { question: 'string', options: 'array' }],
  ['todo_write', 'Replace the task list shown to the human.', { items: 'array' }],
] as const;

function tools(): unknown[] {
  return TOOLS.map(([name, description, params]) => ({
    type: 'function',
    function: {
      name,
      description,
      parameters: {
        type: 'object',
        properties: Object.fromEntries(
          Object.entries(params).map(([p, type]) => [
            p,
            type === 'array' ? { type, items: { type: 'string' }, description: `The ${p.replace(/_/g, ' ')}.` } : { type, description: `The ${p.replace(/_/g, ' ')}.` },
          ]),
        ),
        required: [Object.keys(params)[0]],
        additionalProperties: false,
      },
    },
  }));
}

const SYSTEM = [
  'You are a coding agent working in a TypeScript repository on the user\'s machine. You can read, search and edit files,',
  'run commands and tests, and commit. Work in small verified steps: read the code before changing it, run the tests that',
  'cover what you change, and explain what you did and why in one short paragraph at the end. Never invent APIs: check the',
  'source or the documentation first. Keep files under 300 lines and comments about why, not what. The repository is a',
  'localhost OpenAI-compatible proxy (Node 20) that lets agents use an upstream API with scoped, budgeted local tokens.',
].join('\n');

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.ts')) out.push(p);
    }
  };
  walk(join(REPO_ROOT, 'proxy'));
  return out;
}

/** A chat completion request of about `targetBytes` bytes of JSON. */
export function agentChatBody(targetBytes = 400 * 1024, stream = false): string {
  const messages: unknown[] = [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: 'The budget check refuses requests that should fit. Find out why, fix it, and add a test.' },
  ];
  const base = { model: BENCH_MODEL, max_tokens: 4096, tools: tools(), tool_choice: 'auto', temperature: 0.2, ...(stream ? { stream: true } : {}) };
  let size = JSON.stringify({ ...base, messages }).length;
  let call = 0;
  for (const file of sourceFiles()) {
    const path = relative(REPO_ROOT, file);
    const lines = readFileSync(file, 'utf8').split('\n');
    const numbered = lines.map((l, i) => `${String(i + 1).padStart(4)}  ${l}`).join('\n');
    const id = `call_${String(++call).padStart(4, '0')}`;
    const turn = [
      { role: 'assistant', content: `Let me read ${path} to see how it fits in.`, tool_calls: [{ id, type: 'function', function: { name: 'read_file', arguments: JSON.stringify({ path }) } }] },
      { role: 'tool', tool_call_id: id, content: numbered },
    ];
    const add = JSON.stringify(turn).length;
    if (size + add > targetBytes) {
      // The last tool result is cut so the body lands on the target size.
      const room = targetBytes - size - (add - JSON.stringify(numbered).length) - 64;
      if (room > 1000) {
        let cut = numbered.slice(0, room);
        while (JSON.stringify(cut).length > room) cut = cut.slice(0, cut.length - 256);
        messages.push(turn[0], { ...turn[1], content: cut });
      }
      break;
    }
    messages.push(...turn);
    size += add;
  }
  messages.push({ role: 'user', content: 'Good. Now make the change and run the budget tests.' });
  return JSON.stringify({ ...base, messages });
}
