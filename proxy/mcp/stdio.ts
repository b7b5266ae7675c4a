/**
 * Runs the MCP server on stdin/stdout until the client goes away. stdout is
 * the protocol channel: nothing else may be written to it (warnings go to
 * stderr, which MCP clients show in their logs).
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { SidecarClient, type ClientConfig } from './client.js';
import { createMcpServer } from './server.js';

export async function runStdioServer(config: ClientConfig): Promise<void> {
  const server = createMcpServer(new SidecarClient(config));
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = () => resolve();
  });
  await server.connect(new StdioServerTransport());
  // The SDK's stdio transport does not notice end of input; the client closing its end of the pipe is our cue to exit.
  process.stdin.once('end', () => void server.close());
  await closed;
}
