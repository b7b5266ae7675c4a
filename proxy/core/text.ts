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
const UNPRINTABLE_ALL = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/**
 * Characters that draw nothing of their own: blanks, combining marks (which only decorate the character
 * before them) and the fillers that render as empty space (Hangul fillers U+115F, U+1160, U+3164, U+FFA0;
 * the Braille blank U+2800; the combining grapheme joiner U+034F is a mark already). A name made only of
 * these looks empty, or like whatever it is stacked on (issue 25 item 11).
 */
const INVISIBLE = '\\p{White_Space}\\p{M}\\p{Cc}\\p{Cf}\\u115F\\u1160\\u3164\\uFFA0\\u2800\\u2028\\u2029';
/** More marks than this in a row stack into an overlay that disguises the letter under it; no script needs more. */
const MAX_MARK_RUN = 4;

/**
 * Matches text with none of the refused characters and, unless empty, at least one visible one and no
 * long run of combining marks (for zod's `.regex`; emptiness is each field's own `min`).
 */
export const PRINTABLE = new RegExp(
  `^(?:(?=[\\s\\S]*[^${INVISIBLE}])(?![\\s\\S]*\\p{M}{${MAX_MARK_RUN + 1}})[^\\p{Cc}\\p{Cf}\\u2028\\u2029]*)?$`,
  'u',
);
export const PRINTABLE_MESSAGE = 'must be plain printable text with a visible character (no control, bidi or other formatting characters, no text made only of blanks, fillers or combining marks)';

/** The names rule: printable, and something to see. */
export function isPrintable(s: string): boolean {
  return PRINTABLE.test(s);
}

/** `s` with every refused character shown as a visible escape (`\u{1b}`), for terminal output. */
export function escapeUnprintable(s: string): string {
  return s.replace(UNPRINTABLE_ALL, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
