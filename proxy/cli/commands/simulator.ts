/** `simulator`: the built-in SkillBoss stand-in, for offline demos, tests and benchmarks. */
import type { Command } from 'commander';
import { startSimulator } from '../../simulator/index.js';
import { CliError } from '../context.js';

export function registerSimulator(program: Command): void {
  program
    .command('simulator')
    .description('run a local SkillBoss API simulator (fake models, prices, balance and key management)')
    .option('--port <port>', 'port (0 picks a free one)', '0')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .requiredOption('--api-key <key>', 'the admin key the simulator accepts (made up; starts with sk- in the seed dialect, any form in the real one)')
    .option('--dialect <dialect>', 'seed: the agent-auth page\'s API (child keys, rotation, /v1/balance); real: as the real service answers (model list without prices, per-model pricing, /v1/wallet/balance, no key-rotation API, injected _ fields, X-Max-Cost-Usd)', 'seed')
    .option('--balance <usd>', 'account balance in USD', '100')
    .option('--services', 'with --dialect real: list the services models (an image, a TTS, a video job, a token-priced one) that its /v1/run, /v1/pilot and /v1/job/{id} answer')
    .option('--report-cost', 'report each request\'s cost in the response (usage.cost and x-skillboss-cost)')
    .action(async (o: { port: string; host: string; apiKey: string; balance: string; reportCost?: boolean; services?: boolean; dialect: string }) => {
      if (o.dialect !== 'seed' && o.dialect !== 'real') throw new CliError('--dialect takes seed or real');
      const balance = Number(o.balance);
      if (!Number.isFinite(balance) || balance < 0) throw new CliError('--balance takes a non-negative amount in USD');
      if (o.services && o.dialect !== 'real') throw new CliError('--services needs --dialect real (the seed page has no /v1/run)');
      if (o.dialect === 'seed' && !o.apiKey.startsWith('sk-')) throw new CliError('--api-key must start with sk- (the seed dialect\'s key form; --dialect real takes any)');
      const sim = await startSimulator({ apiKey: o.apiKey, balanceUsd: balance, host: o.host, port: Number(o.port), reportCost: o.reportCost ?? false, services: o.services ?? false, dialect: o.dialect }).catch((err: unknown) => {
        throw new CliError((err as Error).message);
      });
      process.stdout.write(`simulator ${sim.url} (${sim.dialect} dialect)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void sim.close().finally(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
