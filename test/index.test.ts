import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { signedPost } from './helpers';

describe('response headers', () => {
  it('pages carry a Content-Security-Policy with frame-ancestors, nosniff and no framing', async () => {
    for (const path of ['/tokens', '/admin/tokens', '/login']) {
      const res = await SELF.fetch(`https://app.test${path}`);
      expect(res.status).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('API answers are not cached or sniffed, errors included', async () => {
    for (const path of ['/api/health', '/api/nope', '/api/account']) {
      const res = await SELF.fetch(`https://app.test${path}`);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
    }
  });
});

describe('request ids', () => {
  it('every API answer names its request, and an error body carries the same id', async () => {
    const ok = await SELF.fetch('https://app.test/api/health');
    expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const res = await SELF.fetch('https://app.test/api/nope');
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(id).not.toBe(ok.headers.get('x-request-id'));
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'No such API route', requestId: id } });
  });

  it("errors raised before routing (the same-origin check) carry it too", async () => {
    const res = await SELF.fetch('https://app.test/api/auth/logout', { method: 'POST', headers: { origin: 'https://evil.test', 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('forbidden');
    expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
  });

  it("uses Cloudflare's ray id when there is one, and ignores anything else in that header", async () => {
    const ray = await SELF.fetch('https://app.test/api/nope', { headers: { 'cf-ray': '8f1a2b3c4d5e6f70-IAD' } });
    expect(ray.headers.get('x-request-id')).toBe('8f1a2b3c4d5e6f70-IAD');
    expect(((await ray.json()) as { error: { requestId: string } }).error.requestId).toBe('8f1a2b3c4d5e6f70-IAD');
    const forged = await SELF.fetch('https://app.test/api/nope', { headers: { 'cf-ray': '<script>alert(1)</script>' } });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('validation messages', () => {
  it("are zod's English ones (the contracts use zod/mini, which loads no locale itself)", async () => {
    const res = await signedPost('/api/billing/balance', { userId: 'u'.repeat(129) });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string; details: unknown } };
    expect(error.code).toBe('bad_request');
    expect(error.message).toBe('Invalid request: userId: Too big: expected string to have <=128 characters');
    expect(error.details).toEqual({ issues: [{ path: 'userId', message: 'Too big: expected string to have <=128 characters' }] });
  });
});
