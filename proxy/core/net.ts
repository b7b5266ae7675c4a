/** Names of this machine: what the daemon, its guards and its clients (the CLI, the MCP server) call loopback. */

/** A host name or address that can only mean this machine (IPv4 127.0.0.1, localhost, IPv6 ::1, bare or bracketed). */
export function isLoopbackHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
}
