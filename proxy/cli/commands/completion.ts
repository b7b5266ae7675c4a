/**
 * `completion bash|zsh|fish`: shell completion scripts generated from the
 * commander program itself, so a new command or flag completes the moment it
 * is registered (nothing here lists commands by hand).
 *
 *   bash: source <(skillboss-sidecar completion bash)          (e.g. in ~/.bashrc)
 *   zsh:  source <(skillboss-sidecar completion zsh)           (after compinit)
 *   fish: skillboss-sidecar completion fish > ~/.config/fish/completions/skillboss-sidecar.fish
 */
import { Argument, type Command } from 'commander';

export interface OptionSpec {
  /** Every spelling: --long and -s. */
  names: string[];
  description: string;
  takesValue: boolean;
  /** Fixed values (commander choices). */
  choices: string[];
  /** The value is a path (<dir>, <file>, <path>). */
  isPath: boolean;
}

export interface CommandSpec {
  /** Words from the program to this command ('' for the program itself). */
  path: string;
  name: string;
  description: string;
  subcommands: CommandSpec[];
  options: OptionSpec[];
  /** Fixed values of its positional arguments. */
  argChoices: string[];
}

const HELP_OPTION: OptionSpec = { names: ['--help', '-h'], description: 'show help', takesValue: false, choices: [], isPath: false };

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** The program tree as data: what every generator below works from. */
export function commandTree(cmd: Command, parentPath = ''): CommandSpec {
  const isRoot = cmd.parent === null;
  const path = isRoot ? '' : `${parentPath ? `${parentPath} ` : ''}${cmd.name()}`;
  const options: OptionSpec[] = cmd.options
    .filter((o) => !o.hidden)
    .map((o) => ({
      names: [o.long, o.short].filter((n): n is string => typeof n === 'string'),
      description: oneLine(o.description),
      takesValue: o.required || o.optional,
      choices: o.argChoices ?? [],
      isPath: /<(dir|file|path)[^>]*>/.test(o.flags),
    }));
  const subcommands = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden).map((c) => commandTree(c, path));
  if (isRoot && subcommands.length > 0) {
    subcommands.push({ path: 'help', name: 'help', description: 'show help for a command', subcommands: [], options: [], argChoices: cmd.commands.map((c) => c.name()) });
  }
  return {
    path,
    name: cmd.name(),
    description: oneLine(cmd.description()),
    subcommands,
    options: [...options, HELP_OPTION],
    argChoices: cmd.registeredArguments.flatMap((a: Argument) => a.argChoices ?? []),
  };
}

function flatten(c: CommandSpec): CommandSpec[] {
  return [c, ...c.subcommands.flatMap(flatten)];
}

/** Single-quoted for bash and zsh. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** Single-quoted for fish. */
const fq = (s: string) => `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
const fnName = (prog: string) => `_${prog.replace(/[^A-Za-z0-9]/g, '_')}`;

/** Shell code shared by bash and zsh: walk the words before the cursor to find the command path. */
function walker(all: CommandSpec[], valueOpts: string[], wordsVar: string, first: number, last: string): string {
  const paths = all.filter((c) => c.path).map((c) => sq(c.path));
  return [
    '  local cmdpath="" w i skip=0',
    `  for (( i=${first}; i<${last}; i++ )); do`,
    `    w="\${${wordsVar}[i]}"`,
    '    if (( skip )); then skip=0; continue; fi',
    '    case "$w" in',
    '      --*=*) continue ;;',
    `      ${valueOpts.length ? valueOpts.join('|') : '--never-a-flag'}) skip=1; continue ;;`,
    '      -*) continue ;;',
    '    esac',
    '    case "${cmdpath:+$cmdpath }$w" in',
    `      ${paths.join('|')}) cmdpath="\${cmdpath:+$cmdpath }$w" ;;`,
    '    esac',
    '  done',
  ].join('\n');
}

function optionWords(c: CommandSpec, root: CommandSpec): string[] {
  // The program's own options (--data-dir) are accepted after any command too.
  const opts = c === root ? c.options : [...c.options, ...root.options.filter((o) => !o.names.includes('--version') && !o.names.includes('--help'))];
  return opts.flatMap((o) => o.names.filter((n) => n.startsWith('--')));
}

export function bashCompletion(root: CommandSpec): string {
  const prog = root.name;
  const fn = fnName(prog);
  const all = flatten(root);
  const valueOpts = [...new Set(all.flatMap((c) => c.options.filter((o) => o.takesValue).flatMap((o) => o.names)))];
  const choiceCases = all.flatMap((c) => c.options.filter((o) => o.choices.length).flatMap((o) => o.names.map((n) => `    ${sq(`${c.path}:${n}`)}) COMPREPLY=( $(compgen -W ${sq(o.choices.join(' '))} -- "$cur") ); return ;;`)));
  const pathOpts = [...new Set(all.flatMap((c) => c.options.filter((o) => o.isPath).flatMap((o) => o.names)))];
  const wordCases = all.map((c) => {
    const opts = optionWords(c, root).join(' ');
    const words = [...c.subcommands.map((s) => s.name), ...c.argChoices].join(' ');
    return `    ${sq(c.path)}) opts=${sq(opts)}; words=${sq(words)} ;;`;
  });
  return `# bash completion for ${prog}; generated by \`${prog} completion bash\` from its own command tree.
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" opts="" words=""
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
${walker(all, valueOpts, 'COMP_WORDS', 1, 'COMP_CWORD')}
  case "$cmdpath:$prev" in
${choiceCases.join('\n')}
  esac
  case "$prev" in
    ${pathOpts.length ? pathOpts.join('|') : '--never-a-flag'}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    ${valueOpts.length ? valueOpts.join('|') : '--never-a-flag'}) COMPREPLY=(); return ;;
  esac
  case "$cmdpath" in
${wordCases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") ); else COMPREPLY=( $(compgen -W "$words" -- "$cur") ); fi
}
complete -o bashdefault -o default -F ${fn} ${prog}
`;
}

export function zshCompletion(root: CommandSpec): string {
  const prog = root.name;
  const fn = fnName(prog);
  const all = flatten(root);
  const esc = (s: string) => s.replace(/:/g, '\\:');
  const valueOpts = [...new Set(all.flatMap((c) => c.options.filter((o) => o.takesValue).flatMap((o) => o.names)))];
  const pathOpts = [...new Set(all.flatMap((c) => c.options.filter((o) => o.isPath).flatMap((o) => o.names)))];
  const choiceCases = all.flatMap((c) => c.options.filter((o) => o.choices.length).flatMap((o) => o.names.map((n) => `    ${sq(`${c.path}:${n}`)}) compadd -- ${o.choices.map(sq).join(' ')}; return ;;`)));
  const wordCases = all.map((c) => {
    const withRoot = c === root ? c.options : [...c.options, ...root.options.filter((o) => !o.names.includes('--version') && !o.names.includes('--help'))];
    const opts = withRoot.flatMap((o) => o.names.filter((n) => n.startsWith('--')).map((n) => sq(`${esc(n)}:${o.description}`)));
    const cmds = [...c.subcommands.map((s) => sq(`${esc(s.name)}:${s.description}`)), ...c.argChoices.map((a) => sq(esc(a)))];
    return `    ${sq(c.path)}) opts=(${opts.join(' ')}); cmds=(${cmds.join(' ')}) ;;`;
  });
  return `#compdef ${prog}
# zsh completion for ${prog}; generated by \`${prog} completion zsh\` from its own command tree.
${fn}() {
  local -a opts cmds
  local prev="\${words[CURRENT-1]}"
${walker(all, valueOpts, 'words', 2, 'CURRENT')}
  case "$cmdpath:$prev" in
${choiceCases.join('\n')}
  esac
  case "$prev" in
    ${pathOpts.length ? pathOpts.join('|') : '--never-a-flag'}) _files; return ;;
    ${valueOpts.length ? valueOpts.join('|') : '--never-a-flag'}) return ;;
  esac
  case "$cmdpath" in
${wordCases.join('\n')}
  esac
  if [[ "$PREFIX" == -* ]]; then _describe -t options 'option' opts; else _describe -t commands 'command' cmds; fi
}
if [[ "\${funcstack[1]}" == "${fn}" ]]; then ${fn} "$@"; else compdef ${fn} ${prog}; fi
`;
}

export function fishCompletion(root: CommandSpec): string {
  const prog = root.name;
  const lines = [`# fish completion for ${prog}; generated by \`${prog} completion fish\` from its own command tree.`, `complete -c ${prog} -f`];
  const condition = (c: CommandSpec): string => {
    if (c === root) return '';
    const words = c.path.split(' ');
    const parts = words.map((w) => `__fish_seen_subcommand_from ${w}`);
    return parts.join('; and ');
  };
  const childCondition = (c: CommandSpec): string => {
    const names = c.subcommands.map((s) => s.name).join(' ');
    if (c === root) return '__fish_use_subcommand';
    return `${condition(c)}; and not __fish_seen_subcommand_from ${names}`;
  };
  const optionLine = (c: CommandSpec, o: OptionSpec): string => {
    const flags = o.names.map((n) => (n.startsWith('--') ? `-l ${n.slice(2)}` : `-s ${n.slice(1)}`)).join(' ');
    const value = !o.takesValue ? '' : o.choices.length ? ` -x -a ${fq(o.choices.join(' '))}` : o.isPath ? ' -r -F' : ' -x';
    const cond = c === root ? '' : ` -n ${fq(condition(c))}`;
    return `complete -c ${prog}${cond} ${flags}${value} -d ${fq(o.description)}`;
  };
  for (const c of flatten(root)) {
    for (const s of c.subcommands) lines.push(`complete -c ${prog} -n ${fq(childCondition(c))} -a ${fq(s.name)} -d ${fq(s.description)}`);
    if (c.argChoices.length && c !== root) lines.push(`complete -c ${prog} -n ${fq(condition(c))} -a ${fq(c.argChoices.join(' '))}`);
    for (const o of c.options) if (c === root || !o.names.includes('--help')) lines.push(optionLine(c, o));
  }
  return `${lines.join('\n')}\n`;
}

export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(skillboss-sidecar completion bash)')
    .addArgument(new Argument('<shell>', 'bash | zsh | fish').choices(COMPLETION_SHELLS))
    .addHelpText(
      'after',
      '\nInstall:\n' +
        '  bash: echo \'source <(skillboss-sidecar completion bash)\' >> ~/.bashrc\n' +
        '  zsh:  echo \'source <(skillboss-sidecar completion zsh)\' >> ~/.zshrc   (after compinit)\n' +
        '  fish: skillboss-sidecar completion fish > ~/.config/fish/completions/skillboss-sidecar.fish\n',
    )
    .action((shell: (typeof COMPLETION_SHELLS)[number]) => {
      let root: Command = program;
      while (root.parent) root = root.parent;
      const tree = commandTree(root);
      process.stdout.write(shell === 'bash' ? bashCompletion(tree) : shell === 'zsh' ? zshCompletion(tree) : fishCompletion(tree));
    });
}
