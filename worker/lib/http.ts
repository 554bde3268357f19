import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { AppError } from './errors';

// The contracts are zod/mini schemas, which load no error locale of their own: English here
// gives the same messages full zod would (`Too big: expected string to have <=128 characters`).
// Imported by name: `z.locales.en()` would bundle every locale (~260 KB).
z.config(en());

export const MAX_BODY_BYTES = 64 * 1024;

/** Reads the raw body as text, refusing wrong content types and bodies over 64 KB. */
export async function readRawBody(request: Request): Promise<string> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/json(\s*;|$)/i.test(type)) throw new AppError('unsupported_media_type', 'Content-Type must be application/json');
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new AppError('payload_too_large', `Body exceeds ${MAX_BODY_BYTES} bytes`);
  const buf = await request.arrayBuffer();
  if (buf.byteLength > MAX_BODY_BYTES) throw new AppError('payload_too_large', `Body exceeds ${MAX_BODY_BYTES} bytes`);
  return new TextDecoder().decode(buf);
}

export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError('invalid_json', 'Body is not valid JSON');
  }
}

/** Validates `data` with `schema`; bad input becomes a 400 listing zod's issues. */
export function validate<S extends z.core.$ZodType>(schema: S, data: unknown): z.output<S> {
  const parsed = z.safeParse(schema, data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const message = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new AppError('bad_request', `Invalid request: ${message}`, { issues });
  }
  return parsed.data;
}

/** Reads, parses and validates a JSON body in one step. */
export async function readBody<S extends z.core.$ZodType>(request: Request, schema: S): Promise<z.output<S>> {
  return validate(schema, parseJson(await readRawBody(request)));
}

/** Query strings arrive as strings; each param appears at most once (the last one wins). */
export function queryOf(request: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URL(request.url).searchParams) out[k] = v;
  return out;
}

export function json(data: unknown, init?: ResponseInit): Response {
  return Response.json(data, init);
}

const REQUEST_IDS = new WeakMap<Request, string>();
/** Cloudflare's ray id (`8f1a2b3c4d5e6f70-IAD`); anything else in the header is not trusted. */
const CF_RAY = /^[0-9a-f]{16}(-[A-Z]{3})?$/i;

/**
 * Names the request for logs and error answers: Cloudflare's `cf-ray` when present (so a log
 * line matches Cloudflare's own), otherwise a fresh UUID. Remembered for `requestIdOf`.
 */
export function assignRequestId(request: Request): string {
  const ray = request.headers.get('cf-ray');
  const id = ray && CF_RAY.test(ray) ? ray : crypto.randomUUID();
  REQUEST_IDS.set(request, id);
  return id;
}

/** The id `assignRequestId` gave this request, if any. */
export function requestIdOf(request: Request): string | undefined {
  return REQUEST_IDS.get(request);
}
