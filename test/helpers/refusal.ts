/** Unit tests of code that refuses by throwing: the SidecarError itself, to assert its status and code. */
import { SidecarError } from '../../proxy/core/errors.js';

/** The SidecarError `fn` throws; throws (failing the test) when it returns, or throws anything else. */
export function refusal(fn: () => unknown): SidecarError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SidecarError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}
