// Building /v2/ responses: JSON bodies without a charset parameter, empty answers, and the header
// every answer carries.

export const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

export function json(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
  contentType = 'application/json',
): Response {
  const bytes = Buffer.from(JSON.stringify(body));
  return new Response(bytes, {
    status,
    headers: { ...headers, 'Content-Type': contentType, 'Content-Length': String(bytes.byteLength) },
  });
}

export function empty(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers: { ...headers, 'Content-Length': '0' } });
}
