/** `mcp [--base-url URL]`: the MCP server on stdio (proxy/mcp). */
import type { Command } from 'commander';
import { resolveClientConfig, type ClientConfig } from '../../mcp/client.js';
import { runStdioServer } from '../../mcp/stdio.js';
import { isLocked, readRuntime } from '../../server/lock.js';
import { CliError, dataDirOf, type GlobalOptions } from '../context.js';

/** The data dir's running daemon, with the proof the client asks for before it sends a token: the lock still held. */
export function runtimeOf(dataDir: string): { runtime?: NonNullable<Parameters<typeof resolveClientConfig>[0]['runtime']> } {
  const r = readRuntime(dataDir);
  return r ? { runtime: { url: r.url, dataDir, holdsLock: () => isLocked(dataDir) } } : {};
}

export function registerMcp(program: Command, globals: () => GlobalOptions): void {
  program
    .command('mcp')
    .description('run a Model Context Protocol server on stdio that gives an agent its sidecar as tools: request_access, check_balance, list_models, rotate_key, create_child_agent, revoke_child_agent')
    .option('--base-url <url>', 'the sidecar\'s agent API (env OPENAI_BASE_URL when it is on this machine; default: the running daemon of the data dir, else http://127.0.0.1:7373/v1)')
    .addHelpText(
      'after',
      '\nThe agent\'s key comes from SKILLBOSS_API_KEY or OPENAI_API_KEY (sidecar tokens, sk-sbl-…, only); without one, the request_access tool asks the human for one.\n\n' +
        'Claude Code:   claude mcp add skillboss-sidecar -- npx skillboss-sidecar mcp\n' +
        'Other clients: {"mcpServers": {"skillboss-sidecar": {"command": "npx", "args": ["skillboss-sidecar", "mcp"]}}}\n',
    )
    .action(async (o: { baseUrl?: string }) => {
      let config: ClientConfig;
      try {
        config = resolveClientConfig({ ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}), ...runtimeOf(dataDirOf(globals())), warn: (m) => process.stderr.write(`skillboss-sidecar mcp: ${m}\n`) });
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      await runStdioServer(config);
    });
}
