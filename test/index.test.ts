import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

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
