/**
 * The error envelope every answer of the sidecar uses, OpenAI's: agents'
 * SDKs read it, and so do the dashboard and the CLI. The daemon builds it in
 * one place (`toOpenAIBody`, proxy/core/errors.ts).
 */
export interface ErrorBody {
  error: {
    message: string;
    type: string;
    code: string;
    /** The first field a validation error is about, else null. */
    param: string | null;
    /** One message per field, for validation errors. */
    details?: Record<string, string>;
  };
}
