// Minimal flag parsing: `--name value`, `--flag`, positionals. Unknown flags are an error that
// names the flag and points at --help.
export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[], known: { values: string[]; booleans: string[] }, command: string): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split('=', 2);
    if (known.booleans.includes(name)) flags.set(name, true);
    else if (known.values.includes(name)) {
      const v = inline ?? argv[++i];
      // `--epochs --image-size 96`: the value is missing, not '--image-size'
      if (v === undefined || (inline === undefined && v.startsWith('--'))) {
        throw new Error(`${command}: --${name} needs a value${v === undefined ? '' : `, got the option ${v} instead`} (e.g. --${name}=VALUE; see 'mnv2 ${command} --help')`);
      }
      flags.set(name, v);
    } else throw new Error(`${command}: unknown option --${name} (see 'mnv2 ${command} --help')`);
  }
  return { positionals, flags };
}

export function numberFlag(args: ParsedArgs, name: string, fallback: number, command: string): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isFinite(n)) throw new Error(`${command}: --${name} must be a number, got '${String(v)}'`);
  return n;
}
