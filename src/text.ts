// Text that several layers put into messages: values read from files or arguments, shown so that
// their type is plain and nothing in them reaches a terminal raw.

/** Control characters (C0, DEL, C1) and the line and paragraph separators. */
const control = /[\p{Cc}\u2028\u2029]/gu;

/** `s` with every control character as a \u escape, so a damaged file cannot drive the terminal. */
export function printable(s: string): string {
  return s.replace(control, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value as a message shows it: numbers as they are, strings quoted, anything else as short JSON; at most `max` characters. */
export function shown(value: unknown, max = 60): string {
  let text: string;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
  else if (value === undefined) text = 'nothing';
  else if (typeof value === 'function') text = 'a function';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  text = printable(text);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** A count and its noun, singular for one: `counted(1, 'epoch')` is "1 epoch", `counted(2, 'epoch')` "2 epochs". */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? noun : plural}`;
}

/** An object's leaves as `path: value` pairs, nested objects flattened (`a.b`); arrays and null are leaves. */
export function flatten(value: unknown, path = ''): [string, unknown][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, path ? `${path}.${k}` : k));
  }
  return [[path, value]];
}
