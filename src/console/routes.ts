import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/**
 * The operator console: four static files served at /console by the receiver. They hold no
 * data (the page fetches everything from the token-protected /api), so these routes are public;
 * the token is typed once and kept in the tab's sessionStorage, never in a URL.
 */
const FILES = {
  '/console': ['./index.html', 'text/html; charset=utf-8'],
  '/console/': ['./index.html', 'text/html; charset=utf-8'],
  '/console/console.js': ['./console.js', 'text/javascript; charset=utf-8'],
  '/console/console.css': ['./console.css', 'text/css; charset=utf-8'],
  // The product's one money formatter, the very file the server formats reports and alerts with.
  '/console/money.js': ['../domain/money-format.js', 'text/javascript; charset=utf-8'],
} as const;

/** Same-origin scripts, styles and fetches only; no inline code, nothing from elsewhere. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' blob:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

export async function registerConsoleRoutes(app: FastifyInstance): Promise<void> {
  for (const [url, [file, type]] of Object.entries(FILES)) {
    // Read once at start: the files are small and the console must not depend on the disk later.
    const content = readFileSync(new URL(file, import.meta.url));
    // Public by declaration: the files are the same for everyone and carry no data.
    app.get(url, { config: { auth: 'public' } }, async (_req, reply) =>
      reply
        .header('content-type', type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(content),
    );
  }
}
