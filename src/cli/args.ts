// Command-line options as typed, validated data: unknown options and malformed values are refused.

type OptionType = 'string' | 'number' | 'boolean' | 'list';

interface OptionSpec {
  type: OptionType;
  help: string;
  /** Allowed values of a string option. */
  choices?: readonly string[];
  default?: string | number | boolean | string[];
  required?: boolean;
}

export type OptionsSpec = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'number'
  ? number
  : S['type'] extends 'boolean'
    ? boolean
    : S['type'] extends 'list'
      ? string[]
      : string;

export type Parsed<S extends OptionsSpec> = {
  [K in keyof S]: S[K]['required'] extends true
    ? ValueOf<S[K]>
    : S[K]['default'] extends undefined
      ? ValueOf<S[K]> | undefined
      : ValueOf<S[K]>;
} & { _: string[] };

export class UsageError extends Error {}

/** Parses `--name value`, `--name=value` and `--flag`; `--` ends the options. */
export function parseArgs<S extends OptionsSpec>(command: string, spec: S, argv: readonly string[]): Parsed<S> {
  const out: Record<string, unknown> = Object.create(null);
  out._ = [];
  for (const [name, s] of Object.entries(spec))
    if (s.default !== undefined) out[name] = Array.isArray(s.default) ? [...s.default] : s.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      (out._ as string[]).push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      (out._ as string[]).push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    // Own options only: `--constructor` or `--__proto__` must not find Object.prototype's members.
    const s = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!s)
      throw new UsageError(
        `unknown option --${name} for \`micronet ${command}\` (known: ${Object.keys(spec)
          .map((k) => `--${k}`)
          .join(', ')})`,
      );
    let raw: string;
    if (s.type === 'boolean') {
      if (eq >= 0) {
        raw = arg.slice(eq + 1);
        if (raw !== 'true' && raw !== 'false') throw new UsageError(`--${name} takes true or false, not '${raw}'`);
        out[name] = raw === 'true';
      } else out[name] = true;
      continue;
    }
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      raw = argv[++i]!;
    }
    if (s.type === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} needs a number, not '${raw}'`);
      out[name] = n;
    } else if (s.type === 'list') {
      const list = (out[name] as string[] | undefined) ?? [];
      if (s.default !== undefined && list === s.default) list.length = 0;
      out[name] = [...list, raw];
    } else {
      if (s.choices && !s.choices.includes(raw))
        throw new UsageError(`--${name} must be one of ${s.choices.join(', ')}, not '${raw}'`);
      out[name] = raw;
    }
  }
  for (const [name, s] of Object.entries(spec))
    if (s.required && out[name] === undefined) throw new UsageError(`\`micronet ${command}\` needs --${name}`);
  return out as Parsed<S>;
}

export function usage(command: string, summary: string, spec: OptionsSpec, positionals?: string): string {
  const lines = [
    `usage: micronet ${command}${positionals ? ` ${positionals}` : ''} [options]`,
    '',
    summary,
    '',
    'options:',
  ];
  for (const [name, s] of Object.entries(spec)) {
    const value =
      s.type === 'boolean'
        ? ''
        : s.choices
          ? ` ${s.choices.join('|')}`
          : ` <${s.type === 'list' ? 'value, repeatable' : s.type}>`;
    const extra = s.required ? ' (required)' : s.default !== undefined ? ` (default ${JSON.stringify(s.default)})` : '';
    lines.push(`  --${name}${value}`.padEnd(34) + s.help + extra);
  }
  return lines.join('\n');
}
