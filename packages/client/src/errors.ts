/** A Gatehouse answer that is not a success: its status and, when the body says, its stable code. */
export class GatehouseClientError extends Error {
  readonly status: number;
  /** `code` of a problem body (`ERR_…`) or `error` of an OAuth one (`invalid_grant`); undefined otherwise. */
  readonly code: string | undefined;

  constructor(status: number, code: string | undefined, message: string) {
    super(message);
    this.name = 'GatehouseClientError';
    this.status = status;
    this.code = code;
  }

  static async from(response: Response): Promise<GatehouseClientError> {
    let code: string | undefined;
    let detail = `HTTP ${response.status}`;
    try {
      const body = (await response.json()) as { code?: unknown; error?: unknown; detail?: unknown; error_description?: unknown };
      const named = body.code ?? body.error;
      code = typeof named === 'string' ? named : undefined;
      const text = body.detail ?? body.error_description;
      if (typeof text === 'string') detail = `${detail}: ${text}`;
    } catch {
      // Not JSON: the status is all there is.
    }
    return new GatehouseClientError(response.status, code, detail);
  }
}
