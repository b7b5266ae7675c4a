/**
 * The dashboard's static files (renderer/dist, built by Vite) with the
 * headers that keep a page in a browser safe: a strict CSP with no inline
 * script or style, no framing, no sniffing, no referrer.
 */
import express, { type RequestHandler, type Response } from 'express';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every admin and dashboard response carries. */
export function securityHeaders(res: Response): void {
  res.setHeader('content-security-policy', CSP);
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
  res.setHeader('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');
}

/** renderer/dist beside the sources (tests, dev) or beside dist/ (the built CLI). */
export function findDashboardDir(): string | null {
  for (const rel of ['../../renderer/dist/', '../../../renderer/dist/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

export function dashboard(dir: string | null): RequestHandler[] {
  if (!dir) {
    return [
      (req, res, next) => {
        if (req.method !== 'GET' || (req.path !== '/' && req.path !== '/index.html')) return next();
        res.status(503).type('text/plain').send('The dashboard is not built. Run `npm run build:renderer` (the admin API under /admin/api/ works without it).\n');
      },
    ];
  }
  const files = express.static(dir, {
    index: false,
    dotfiles: 'ignore',
    redirect: false,
    setHeaders(res, path) {
      // Vite puts a content hash in every asset name, so those never change; index.html must be re-checked.
      res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  return [
    (req, res, next) => {
      if ((req.method === 'GET' || req.method === 'HEAD') && req.path === '/') req.url = '/index.html';
      next();
    },
    files,
  ];
}
