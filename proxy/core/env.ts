/**
 * Settings from the environment and from flags, read one way (issue 28): a
 * variable that is empty or only blanks is not set (a script's unset shell
 * variable, `SKILLBOSS_SIDECAR_DATA_DIR= cmd`, must never mean "the current
 * directory", which is what `resolve('')` is), and a flag given explicitly
 * empty (`--data-dir ''`) is refused, since its author meant something and we
 * cannot tell what. A directory is the working directory only when the human
 * names it (`--data-dir .`). Every variable the sidecar reads goes through
 * `envSetting`; a test greps for any other read of `process.env`.
 */
import { SidecarError } from './errors.js';

/** The value of `name` as given (not trimmed), or undefined when it is unset, empty or blank. */
export function envSetting(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** A flag given empty or blank. */
export class EmptySetting extends SidecarError {
  constructor(flag: string) {
    super(400, 'invalid_request_error', 'empty_setting', `${flag} was given an empty value; leave it out for the default${flag === '--data-dir' ? ', or write --data-dir . for the current directory' : ''}`);
    this.name = 'EmptySetting';
  }
}

/** A flag's value as given, undefined when not given; refused when given empty or blank. */
export function flagSetting(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && value.trim() === '') throw new EmptySetting(flag);
  return value;
}

/** Flag, else environment variable, else undefined: the precedence everywhere (core/config.ts). */
export function setting(flag: { value: string | undefined; name: string }, envName: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return flagSetting(flag.value, flag.name) ?? envSetting(envName, env);
}
