// Starts the app the way a user does (`node scripts/start.mjs`) on a free port with fresh local
// state, and drives it from tests: browser launch, signed billing calls, screenshots.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from '../../scripts/lib/free-port.mjs';
import { signedFetch } from '../../scripts/lib/signed-fetch.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SUPERADMIN_EMAIL = 'admin@e2e.test';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const screenshotDir = path.join(root, 'test-results/screenshots');

export interface App {
  base: string;
  secret: string;
  /** The bundled Stripe simulator that `npm start` runs when no STRIPE_SECRET_KEY is set (its port comes from STRIPE_SIM_PORT). */
  sim: string;
  /** The app's local state (wrangler's --persist-to): D1 and the Durable Objects on disk. */
  persist: string;
  logs: () => string;
  stop: () => Promise<void>;
}

export { freePort };

/** BILLING_SECRET from the project's .dev.vars (start.mjs writes that file once, when missing). */
function devVarsSecret(): string | undefined {
  const file = path.join(root, '.dev.vars');
  if (!existsSync(file)) return undefined;
  return /^BILLING_SECRET=(.+)$/m.exec(readFileSync(file, 'utf8'))?.[1]?.trim() || undefined;
}

/**
 * `node scripts/start.mjs` in its own process group; resolves once it logs `[start] ready on`.
 * The Worker (wrangler dev) takes BILLING_SECRET from .dev.vars, so the tests sign billing calls
 * with that same secret and pass it in the environment too, keeping start.mjs's seeding call and
 * the Worker in agreement.
 */
export async function startApp(opts: { readyTimeoutMs?: number } = {}): Promise<App> {
  const port = await freePort();
  const simPort = await freePort();
  const persist = mkdtempSync(path.join(tmpdir(), 'tb-e2e-'));
  const knownSecret = devVarsSecret();
  const child: ChildProcess = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port),
      PERSIST_DIR: persist,
      SUPERADMIN_EMAILS: SUPERADMIN_EMAIL,
      ...(knownSecret ? { BILLING_SECRET: knownSecret } : {}),
      STRIPE_SIM_PORT: String(simPort),
      // Outgoing webhooks fail after two tries, one second apart, so the page shows a failed delivery to resend.
      WEBHOOK_MAX_ATTEMPTS: '2',
      WEBHOOK_RETRY_BASE_SECONDS: '1',
      // The page tests do not use the AI gateway start.mjs also runs: leave it out.
      GATEWAY: 'off',
      WRANGLER_SEND_METRICS: 'false',
      NO_COLOR: '1',
    },
  });
  let out = '';
  const onData = (b: Buffer) => {
    out += b.toString();
    if (out.length > 400_000) out = out.slice(-200_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);

  let exited = false;
  const exitedP = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const stop = async () => {
    if (!exited && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {}
      const timer = new Promise<void>((r) => setTimeout(r, 8000));
      await Promise.race([exitedP, timer]);
      // start.mjs exits on SIGTERM after killing wrangler; make sure nothing of the group is left.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }
    rmSync(persist, { recursive: true, force: true });
  };

  const readyTimeout = opts.readyTimeoutMs ?? 150_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`app not ready within ${readyTimeout} ms\n${out.slice(-4000)}`)), readyTimeout);
      const check = () => {
        if (out.includes('[start] ready on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      exitedP.then(() => {
        clearTimeout(timer);
        reject(new Error(`start.mjs exited before it was ready\n${out.slice(-4000)}`));
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const secret = knownSecret ?? devVarsSecret();
  if (!secret) {
    await stop();
    throw new Error('no BILLING_SECRET in .dev.vars after start');
  }
  return { base: `http://127.0.0.1:${port}`, secret, sim: `http://127.0.0.1:${simPort}`, persist, logs: () => out, stop };
}

export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** The desktop viewport the browser tests use unless a test asks for another. */
export const DESKTOP = { viewport: { width: 1280, height: 900 } };

/** What a browser test file shares: see {@link browserSuite}. */
export interface BrowserSuite {
  /** The app, filled in by the suite's `beforeAll` (the same object all along, so a file may hold it in a `const`). */
  app: App;
  /** A new browser context (closed with the suite), e.g. to share a session's cookies with `storageState`. */
  newContext(opts?: object): Promise<BrowserContext>;
  /** A page in a new context (desktop unless `opts` says otherwise) that logs its page errors; `onPage` sees it too. */
  newPage(opts?: object): Promise<Page>;
}

/**
 * One browser test file's app and Chromium: both started in a `beforeAll` (registered first, so
 * the file's own `beforeAll` hooks run after it) and torn down by `closeAll` in an `afterAll`
 * (run after the file's own, which vitest runs in reverse order of registration).
 */
export function browserSuite(opts: { onPage?: (page: Page) => void } = {}): BrowserSuite {
  const contexts: BrowserContext[] = [];
  let browser: Browser | undefined;
  let started: App | undefined;
  const app = {} as App;
  const newContext = async (ctxOpts: object = DESKTOP) => {
    const ctx = await browser!.newContext(ctxOpts);
    contexts.push(ctx);
    return ctx;
  };
  beforeAll(async () => {
    [started, browser] = await Promise.all([startApp(), launchBrowser()]);
    Object.assign(app, started);
  }, 180_000);
  afterAll(() => closeAll(contexts, browser, started), 30_000);
  return {
    app,
    newContext,
    async newPage(ctxOpts: object = DESKTOP) {
      const page = await (await newContext(ctxOpts)).newPage();
      page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
      opts.onPage?.(page);
      return page;
    },
  };
}

/** Tears down what a browser test file started: its contexts, then the browser, then the app (each may be missing). */
export async function closeAll(contexts: BrowserContext[], browser: Browser | undefined, app: App | undefined) {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await app?.stop();
}

/** POST to the signed billing API, like every billing caller. */
export async function signedPost(app: App, route: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await signedFetch(`${app.base}${route}`, body, app.secret);
  const text = await res.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json };
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
}

/** Signs up through the form and waits for /tokens. */
export async function signUp(page: Page, base: string, email: string, password = 'correct horse battery') {
  await page.goto(`${base}/signup`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.waitForURL(`${base}/tokens`);
}

const AXE_SOURCE = path.join(root, 'node_modules/axe-core/axe.min.js');

/**
 * Runs axe-core (WCAG 2.1 A/AA and best practices: labels, names, landmarks, ARIA, colour
 * contrast) on the page as rendered and returns one line per violated rule and element.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the debugger, not added as an inline <script>: the pages' CSP (script-src
  // 'self') rightly blocks inline scripts, the harness's own included.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE_SOURCE, 'utf8'));
  return page.evaluate(async () => {
    const axe = (window as any).axe;
    const res = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return res.violations.flatMap((v: any) => v.nodes.map((n: any) => `${v.id} (${v.impact}) ${n.target.join(' ')}: ${v.help}`));
  });
}
