// What a route answers, independent of the HTTP framework that sends it.

export interface Reply {
  status: number;
  /** Already serialised; contentType says what it is. */
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

export const JSON_TYPE = 'application/json; charset=utf-8';

export function jsonReply(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(value), contentType: JSON_TYPE, ...(headers ? { headers } : {}) };
}

/** Every error, from any layer, has this JSON shape. */
export function errorReply(status: number, error: string, message: string, headers?: Record<string, string>): Reply {
  return jsonReply(status, { statusCode: status, error, message }, headers);
}
