import type { Handler, Route } from './core.js';

interface Compiled {
  method: string;
  re: RegExp;
  names: string[];
  handler: Handler;
}

export type Match =
  { kind: 'found'; handler: Handler; path: Record<string, string> } | { kind: 'not_found' };

/** A tiny router: `:name` captures one path segment. Literal routes are tried first. */
export class Router {
  private readonly routes: Compiled[];

  constructor(routes: Route[]) {
    const literalFirst = [...routes].sort(
      (a, b) => a.path.split(':').length - b.path.split(':').length,
    );
    this.routes = literalFirst.map((r) => {
      const names: string[] = [];
      const pattern = r.path
        .split('/')
        .map((seg) => {
          if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(seg.slice(1));
          return '([^/]+)';
        })
        .join('/');
      return { method: r.method, re: new RegExp(`^${pattern}/?$`), names, handler: r.handler };
    });
  }

  match(method: string, pathname: string): Match {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.re.exec(pathname);
      if (!m) continue;
      const path: Record<string, string> = {};
      r.names.forEach((name, i) => {
        path[name] = decodeURIComponent(m[i + 1] ?? '');
      });
      return { kind: 'found', handler: r.handler, path };
    }
    return { kind: 'not_found' };
  }
}
