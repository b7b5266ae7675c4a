/**
 * The access-request sweep's timer: every `sweepIntervalMs` the service
 * expires what is overdue and publishes what other processes (the CLI)
 * changed (AccessRequests.sweep). The daemon starts it once it listens and
 * stops it on shutdown; the CLI never starts one. Unref'd, so it never keeps
 * a process alive.
 */
export class Sweep {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: () => void,
  ) {}

  start(): void {
    if (this.timer || this.intervalMs <= 0) return;
    this.timer = setInterval(this.tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
