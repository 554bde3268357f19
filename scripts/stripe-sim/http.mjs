// Node HTTP helpers shared by the API pipeline, the hosted page and the control API.
import { decodeForm } from './form.mjs';
import { invalid } from './lib.mjs';

/**
 * @param {import('node:http').ServerResponse} res @param {number} status @param {any} body @param {Record<string, string>} [headers]
 */
export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'access-control-allow-origin': '*',
    'cache-control': 'no-cache, no-store',
    ...headers,
  });
  res.end(text);
}

/** @param {import('node:http').ServerResponse} res @param {number} status @param {string} html */
export function sendHtml(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
  res.end(html);
}

/** The request body as text (refused over 2 MB). @param {import('node:http').IncomingMessage} req @returns {Promise<string>} */
export function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    req.on('data', (/** @type {Buffer} */ ch) => {
      size += ch.length;
      if (size > 2_000_000) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(ch);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A JSON or form-encoded body as an object. @param {import('node:http').IncomingMessage} req @param {string} text */
export function parseBody(req, text) {
  if (!text) return {};
  const ct = String(req.headers['content-type'] ?? '');
  if (ct.includes('application/json')) {
    try {
      return JSON.parse(text) ?? {};
    } catch {
      throw invalid('Invalid JSON body.');
    }
  }
  return decodeForm(text);
}
