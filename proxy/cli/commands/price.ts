/** `price list|set|default`: model prices (USD per million tokens), synced from SkillBoss, with local overrides. */
import type { Command } from 'commander';
import { PriceBook } from '../../pricing/prices.js';
import { unpricedModels } from '../../pricing/fallback.js';
import { CliError, openDb, printJson, printTable, type GlobalOptions } from '../context.js';
import { parsePriceFlag } from '../parse.js';
import { write, writeDirect } from '../daemon.js';

function perMillion(s: string, flag: string): number {
  return parsePriceFlag(s, flag, 'a price in USD per million tokens such as 2.50');
}

function onBook(g: GlobalOptions, fn: (book: PriceBook) => void): void {
  const db = openDb(g);
  try {
    fn(new PriceBook(db));
  } finally {
    db.close();
  }
}

export function registerPrice(program: Command, globals: () => GlobalOptions): void {
  const price = program.command('price').description('model prices in USD per million tokens');

  price
    .command('list')
    .option('--json', 'print JSON only')
    .action((o: { json?: boolean }) => {
      const db = openDb(globals());
      try {
        const book = new PriceBook(db);
        const rows = book.list();
        const fallback = book.priceFor(undefined);
        if (o.json) return printJson({ models: rows, unpriced: unpricedModels(db), default: { prompt: fallback.prompt, completion: fallback.completion, call_usd: book.callPriceMicros() / 1e6 } });
        // A class rate SkillBoss does not list falls back (cached/cache write = prompt, reasoning = completion), marked with *.
        const rate = (v: number, src: string) => `${v}${src === 'fallback' ? '*' : ''}`;
        printTable(
          rows.map((r) => ({ model: r.id, prompt: String(r.prompt), completion: String(r.completion), cached: rate(r.cached, r.classSource.cached), 'cache write': rate(r.cacheWrite, r.classSource.cacheWrite), reasoning: rate(r.reasoning, r.classSource.reasoning), source: r.source === 'upstream' && r.origin ? `SkillBoss ${r.origin}` : r.source })),
          ['model', 'prompt', 'completion', 'cached', 'cache write', 'reasoning', 'source'],
        );
        process.stdout.write('\n* not listed by SkillBoss: cached and cache-write tokens are charged the prompt rate, reasoning tokens the completion rate.\n');
        const unpriced = unpricedModels(db);
        if (unpriced.length) process.stdout.write(`\nSkillBoss lists but does not price: ${unpriced.join(', ')}. They are charged the fallback below (flagged on their ledger rows) until you set a price.\n`);
        process.stdout.write(`\nUnknown models are charged ${fallback.prompt} / ${fallback.completion} (prompt / completion) and flagged.\n`);
        process.stdout.write(`Images, audio and services calls SkillBoss does not price are charged $${book.callPriceMicros() / 1e6} each, flagged.\n`);
      } finally {
        db.close();
      }
    });

  price
    .command('set <model>')
    .description('override a model\'s price locally (wins over the synced one)')
    .requiredOption('--prompt <usd>', 'USD per million prompt tokens')
    .option('--completion <usd>', 'USD per million completion tokens (default: same as prompt)')
    .option('--cached <usd>', 'USD per million cached prompt tokens (default: the prompt rate)')
    .option('--cache-write <usd>', 'USD per million prompt tokens written to the cache (default: the prompt rate)')
    .option('--reasoning <usd>', 'USD per million reasoning tokens (default: the completion rate)')
    .action(async (model: string, o: { prompt: string; completion?: string; cached?: string; cacheWrite?: string; reasoning?: string }) => {
      const p = perMillion(o.prompt, '--prompt');
      const c = o.completion === undefined ? p : perMillion(o.completion, '--completion');
      const opt = (v: string | undefined, flag: string) => (v === undefined ? null : perMillion(v, flag));
      const classes = { cached: opt(o.cached, '--cached'), cacheWrite: opt(o.cacheWrite, '--cache-write'), reasoning: opt(o.reasoning, '--reasoning') };
      const g = globals();
      const direct = () => onBook(g, (book) => book.setOverride(model, p, c, classes));
      // The settings route takes prompt and completion rates; an override with class rates is written here and applied by the daemon at once.
      if (classes.cached === null && classes.cacheWrite === null && classes.reasoning === null) {
        await write(g, (d) => d.call('PATCH', '/settings', { price_overrides: { [model]: { prompt: p, completion: c } } }), direct);
      } else await writeDirect(g, direct);
      process.stdout.write(`${model}: ${p} / ${c} USD per million tokens (local override).\n`);
    });

  price
    .command('unset <model>')
    .description('drop a local override')
    .action(async (model: string) => {
      const g = globals();
      await write(g, (d) => d.call('PATCH', '/settings', { price_overrides: { [model]: null } }), () => onBook(g, (book) => book.setOverride(model, null, null)));
      process.stdout.write(`${model}: local override removed.\n`);
    });

  price
    .command('default')
    .description('what is charged when SkillBoss gives no price: unknown models (per million tokens), and images/audio/services calls (per call)')
    .option('--prompt <usd>', 'USD per million prompt tokens, for unknown models')
    .option('--completion <usd>', 'USD per million completion tokens, for unknown models')
    .option('--call <usd>', 'USD per images/audio/services call whose cost SkillBoss does not report')
    .action(async (o: { prompt?: string; completion?: string; call?: string }) => {
      if ((o.prompt === undefined) !== (o.completion === undefined)) throw new CliError('give --prompt and --completion together');
      if (o.prompt === undefined && o.call === undefined) throw new CliError('give --prompt and --completion, and/or --call');
      const g = globals();
      const price = o.prompt === undefined ? undefined : { prompt: perMillion(o.prompt, '--prompt'), completion: perMillion(o.completion!, '--completion') };
      const call = o.call === undefined ? undefined : perMillion(o.call, '--call');
      if (price) await write(g, (d) => d.call('PATCH', '/settings', { default_price: price }), () => onBook(g, (book) => book.setDefault(price)));
      // No admin route for the per-call price: written here, applied by the daemon at once.
      if (call !== undefined) await writeDirect(g, () => onBook(g, (book) => book.setDefaultCall(call)));
      process.stdout.write('Default prices updated.\n');
    });
}
