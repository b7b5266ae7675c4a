/**
 * Names and other short texts agents choose are shown to the human in a
 * terminal, the tray and the dashboard. One rule for all of them, on every
 * path in (agent API, admin API, CLI, access requests): no C0/C1 control
 * characters (ESC sequences that clear the screen or write the clipboard, NUL,
 * CR/LF), no format characters (bidi overrides and isolates, zero-width
 * characters) and no line or paragraph separators, any of which could
 * disguise what the human reads. On the way out, terminal prints escape
 * whatever slipped in before the rule existed.
 */
const UNPRINTABLE_CHAR = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const UNPRINTABLE_ALL = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/** Matches text with none of the refused characters (for zod's `.regex`). */
export const PRINTABLE = /^[^\p{Cc}\p{Cf}\u2028\u2029]*$/u;
export const PRINTABLE_MESSAGE = 'must be plain printable text (no control, bidi or other formatting characters)';

export function isPrintable(s: string): boolean {
  return !UNPRINTABLE_CHAR.test(s);
}

/** `s` with every refused character shown as a visible escape (`\u{1b}`), for terminal output. */
export function escapeUnprintable(s: string): string {
  return s.replace(UNPRINTABLE_ALL, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
