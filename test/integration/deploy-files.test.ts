import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { buildApp } from '../../src/app.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { REPO_ROOT } from '../support/cli.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { captureLog, testConfig } from '../support/events.js';

/**
 * The deployment files (Dockerfile, docker-compose.yml, deploy/kubernetes/, deploy/observability/)
 * cannot be run here (no Docker, no cluster), so they are checked against the code: they parse,
 * they hold the keys that matter, every probe and health check names a route the app answers 200,
 * and every metric a dashboard panel or an alert rule reads is one a running app exposes — read
 * from its live /metrics, so renaming a metric in src/metrics.ts fails here until they follow.
 */

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const IMAGE = 'stripe-reversal-recon:0.1.0';

// Compose resolves YAML merge keys (`<<: *recon`); the yaml package does so when asked.
const compose = parse(read('docker-compose.yml'), { merge: true }) as Obj;
const K8S_DIR = 'deploy/kubernetes';
const k8sFiles = readdirSync(join(REPO_ROOT, K8S_DIR)).filter((f) => f.endsWith('.yaml'));
const k8s: Obj[] = k8sFiles.flatMap((f) =>
  parseAllDocuments(read(`${K8S_DIR}/${f}`)).map((d) => {
    expect(d.errors, `${f}: ${d.errors.join('; ')}`).toEqual([]);
    return { ...(d.toJS() as Obj), __file: f };
  }),
);
const byKind = (kind: string) => k8s.filter((d) => d.kind === kind);
const named = (kind: string, name: string) => {
  const d = k8s.find((x) => x.kind === kind && x.metadata?.name === name);
  expect(d, `${kind} ${name}`).toBeDefined();
  return d!;
};
const workloads = () => [...byKind('Deployment'), ...byKind('Job')];
const containerOf = (d: Obj) => d.spec.template.spec.containers[0] as Obj;

/**
 * Paths that orchestrators request: Kubernetes httpGet probes, the Dockerfile HEALTHCHECK and the
 * compose health checks.
 */
function probePaths(): string[] {
  const paths = new Set<string>();
  for (const d of workloads()) {
    for (const c of d.spec.template.spec.containers as Obj[]) {
      for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        if (c[p]?.httpGet?.path) paths.add(c[p].httpGet.path as string);
      }
    }
  }
  for (const m of read('Dockerfile').matchAll(/HEALTHCHECK[\s\S]*?(\/[a-z]+)['"]/g)) {
    paths.add(m[1]!);
  }
  for (const svc of Object.values(compose.services as Obj)) {
    const test = (svc as Obj).healthcheck?.test as string[] | undefined;
    const m = /'(\/[a-z]+)'\)/.exec(test?.join(' ') ?? '');
    if (m) paths.add(m[1]!);
  }
  return [...paths];
}

describe('docker-compose.yml', () => {
  const s = compose.services as Obj;

  it('has postgres, redis, a one-shot migrate, the receiver and the worker', () => {
    expect(Object.keys(s).sort()).toEqual(['app', 'migrate', 'postgres', 'redis', 'worker']);
    expect(s.postgres.image).toMatch(/^postgres:15/);
    expect(s.redis.image).toMatch(/^redis:7/);
    const redisArgs = (s.redis.command as string[]).join(' ');
    expect(redisArgs).toContain('--maxmemory-policy noeviction');
    expect(redisArgs).toContain('--appendonly yes');
    expect(s.migrate.command).toEqual(['migrate']);
    expect(s.migrate.restart).toBe('no');
    expect(s.app.command).toEqual(['serve']);
    expect(s.worker.command).toEqual(['worker']);
    for (const name of ['migrate', 'app', 'worker']) {
      expect(s[name].image, name).toBe(IMAGE);
      expect(s[name].build, name).toBe('.');
    }
    expect(s.app.depends_on.migrate.condition).toBe('service_completed_successfully');
    expect(s.worker.depends_on.migrate.condition).toBe('service_completed_successfully');
    expect(s.migrate.depends_on.postgres.condition).toBe('service_healthy');
    expect(s.app.ports).toEqual(['127.0.0.1:3000:3000']);
    // The image's HEALTHCHECK probes PORT, which the worker does not serve: its own check asks
    // the probe server on METRICS_PORT. The migration serves nothing.
    expect(s.worker.healthcheck.test.join(' ')).toContain('process.env.METRICS_PORT || 9464');
    expect(s.worker.healthcheck.test.join(' ')).toContain("'/healthz'");
    expect(s.migrate.healthcheck).toEqual({ disable: true });
  });

  it('uses the README defaults: user postgres without a password, database recon', () => {
    const env = s.app.environment as Obj;
    expect(s.migrate.environment).toEqual(env);
    // The worker adds only its heap ceiling (checked with the Kubernetes manifest below).
    const { NODE_OPTIONS, ...workerEnv } = s.worker.environment as Obj;
    expect(NODE_OPTIONS).toMatch(/^--max-old-space-size=\d+$/);
    expect(workerEnv).toEqual(env);
    expect(env.DATABASE_URL).toBe('postgresql://postgres@postgres:5432/recon');
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    // No password in the URLs, so Postgres must trust (as the local Postgres of the README does).
    expect(s.postgres.environment.POSTGRES_HOST_AUTH_METHOD).toBe('trust');
    expect(s.postgres.environment.POSTGRES_PASSWORD).toBeUndefined();
    expect(s.postgres.environment.POSTGRES_DB).toBe('recon');
    expect(s.postgres.ports).toEqual(['127.0.0.1:5432:5432']);
    expect(s.redis.ports).toEqual(['127.0.0.1:6379:6379']);
    // …so the host-side URLs the README and .env.example give reach the compose services.
    expect(read('.env.example')).toContain(
      'DATABASE_URL=postgresql://postgres@127.0.0.1:5432/recon',
    );
    expect(read('README.md')).toContain('postgresql://postgres@127.0.0.1:5432/recon');
  });
});

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const stages = text.split(/^FROM /m).slice(1);

  it('builds in one stage and runs the production install in another, as a non-root user', () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/^node:20-bookworm-slim AS build/);
    expect(stages[0]).toMatch(/RUN npm ci\b/);
    expect(stages[0]).toContain('RUN npm run build');
    const runtime = stages[1]!;
    expect(runtime).toMatch(/^node:20-bookworm-slim AS runtime/);
    expect(runtime).toMatch(/RUN npm ci --omit=dev --omit=optional/);
    expect(runtime).toContain('COPY --from=build /app/dist ./dist');
    expect(runtime).toContain('COPY prisma/migrations ./prisma/migrations');
    expect(runtime).toContain('COPY bin ./bin');
    const user = /^USER (\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(runtime).toContain('ENTRYPOINT ["node", "bin/recon.js"]');
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
    const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(' '),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect(existsSync(join(REPO_ROOT, src)), src).toBe(true);
      const top = src.split('/')[0]!;
      expect(ignored, `${src} is excluded by .dockerignore`).not.toContain(top);
    }
  });
});

describe('deploy/kubernetes', () => {
  it('lists every manifest but the example Secret in kustomization.yaml', () => {
    const kustomization = parse(read(`${K8S_DIR}/kustomization.yaml`)) as Obj;
    const resources = (kustomization.resources as string[]).sort();
    expect(resources).toEqual(
      k8sFiles.filter((f) => !['kustomization.yaml', 'secret.example.yaml'].includes(f)).sort(),
    );
    expect(kustomization.images[0].name).toBe(IMAGE.split(':')[0]);
  });

  it('has the receiver Deployment and Service, the worker Deployment and the migrate Job', () => {
    const receiver = named('Deployment', 'recon-receiver');
    const worker = named('Deployment', 'recon-worker');
    const job = named('Job', 'recon-migrate');
    expect(containerOf(receiver).args).toEqual(['serve']);
    expect(containerOf(worker).args).toEqual(['worker']);
    expect(containerOf(job).args).toEqual(['migrate']);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');

    const service = named('Service', 'recon-receiver');
    const labels = receiver.spec.template.metadata.labels as Obj;
    for (const [k, v] of Object.entries(service.spec.selector as Obj)) expect(labels[k], k).toBe(v);
    const portNames = (containerOf(receiver).ports as Obj[]).map((p) => p.name);
    for (const p of service.spec.ports as Obj[]) expect(portNames).toContain(p.targetPort);
  });

  it('runs one image, non-root, with config and secrets that exist, within the grace period', () => {
    const config = named('ConfigMap', 'recon-config');
    named('Secret', 'recon-secrets');
    const shutdownSeconds = Number(/^(\d+)s$/.exec(config.data.SHUTDOWN_TIMEOUT as string)![1]);
    for (const d of workloads()) {
      const pod = d.spec.template.spec as Obj;
      const c = containerOf(d);
      expect(c.image, d.metadata.name).toBe(IMAGE);
      expect(pod.securityContext.runAsNonRoot, d.metadata.name).toBe(true);
      expect(c.securityContext.allowPrivilegeEscalation, d.metadata.name).toBe(false);
      const refs = (c.envFrom as Obj[]).map((e) => e.configMapRef?.name ?? e.secretRef?.name);
      expect(refs.sort()).toEqual(['recon-config', 'recon-secrets']);
      if (d.kind === 'Deployment') {
        const selector = d.spec.selector.matchLabels as Obj;
        for (const [k, v] of Object.entries(selector)) {
          expect(d.spec.template.metadata.labels[k], `${d.metadata.name} ${k}`).toBe(v);
        }
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(shutdownSeconds);
      }
    }
  });

  it('caps the worker heap well under its memory limit, and compose caps it the same', () => {
    const c = containerOf(named('Deployment', 'recon-worker'));
    const options = (c.env as Obj[]).find((e) => e.name === 'NODE_OPTIONS')?.value as string;
    const heapMb = Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);
    const limitMi = Number(/^(\d+)Mi$/.exec(c.resources.limits.memory as string)?.[1]);
    // Node's own code, buffers and native memory come on top of the heap: half the limit at most.
    expect(heapMb).toBeGreaterThanOrEqual(128);
    expect(heapMb).toBeLessThanOrEqual(limitMi / 2);
    expect(compose.services.worker.environment.NODE_OPTIONS).toBe(options);
  });

  it('probes the receiver: liveness /healthz, readiness that ignores a Redis outage', () => {
    const c = containerOf(named('Deployment', 'recon-receiver'));
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz?role=receiver');
    expect(c.startupProbe.httpGet.path).toBe('/healthz');
    for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      expect(c[p].httpGet.port).toBe('http');
    }
  });
});

describe('deploy/kubernetes probes and scrapes on METRICS_PORT', () => {
  const metricsPort = Number(named('ConfigMap', 'recon-config').data.METRICS_PORT);

  it('probes the worker on its metrics port: liveness /healthz, readiness /readyz', () => {
    const c = containerOf(named('Deployment', 'recon-worker'));
    const port = (c.ports as Obj[]).find((p) => p.name === 'metrics');
    expect(port?.containerPort).toBe(metricsPort);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.startupProbe.httpGet.path).toBe('/healthz');
    for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      expect(c[p].httpGet.port).toBe('metrics');
    }
  });

  it('has every Deployment scraped on the metrics port it declares', () => {
    expect(metricsPort).toBe(9464);
    for (const d of byKind('Deployment')) {
      const a = d.spec.template.metadata.annotations as Obj;
      expect(a?.['prometheus.io/scrape'], d.metadata.name).toBe('true');
      expect(a['prometheus.io/path'], d.metadata.name).toBe('/metrics');
      expect(Number(a['prometheus.io/port']), d.metadata.name).toBe(metricsPort);
      const ports = (containerOf(d).ports as Obj[]).map((p) => p.containerPort);
      expect(ports, d.metadata.name).toContain(metricsPort);
    }
  });
});

/** Metric names in a PromQL expression: identifiers that are not functions, keywords or labels. */
function promqlMetricNames(expr: string): string[] {
  const KEYWORDS = new Set([
    ...['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset'],
    ...['and', 'or', 'unless', 'inf', 'nan'],
  ]);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = new Set<string>();
  for (const m of stripped.matchAll(/([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call || KEYWORDS.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names];
}

let db: TestDatabase;
let rt: Runtime;
let app: FastifyInstance;

beforeAll(async () => {
  db = await createTestDatabase();
  rt = createRuntime(testConfig({ DATABASE_URL: db.url }), captureLog('warn').log);
  app = await buildApp(rt);
  // Plain /readyz (the worker's readiness) needs Redis: wait for the producer connection.
  await waitFor(() => rt.redis.status === 'ready', { what: 'Redis connected' });
});

afterAll(async () => {
  await app?.close();
  await rt?.close();
  await db?.close();
});

describe('against a running app', () => {
  it('every probe and health check names a route that answers 200', async () => {
    const paths = probePaths();
    expect(paths.sort()).toEqual(['/healthz', '/readyz', '/readyz?role=receiver']);
    for (const path of paths) {
      const res = await app.inject({ method: 'GET', url: path });
      expect(res.statusCode, `${path}: ${res.body}`).toBe(200);
    }
  });

  it('every metric in the Grafana dashboard and the alert rules is in /metrics', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    // Series names from the `# TYPE` lines, so a metric no request has touched yet still counts.
    const exposed = new Set<string>();
    for (const m of res.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name, type] = m;
      exposed.add(name!);
      if (type === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) exposed.add(name + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) exposed.add(name + s);
    }
    expect(exposed.size).toBeGreaterThan(20);
    // Prometheus's own per-target series, not the app's.
    const PROMETHEUS_SERIES = new Set(['up']);

    const used = new Map<string, string>(); // metric -> where
    const dashboard = JSON.parse(read('deploy/observability/grafana-dashboard.json')) as Obj;
    const panels = (dashboard.panels as Obj[]).flatMap((p) => [p, ...((p.panels as Obj[]) ?? [])]);
    for (const p of panels) {
      for (const t of (p.targets as Obj[]) ?? []) {
        for (const n of promqlMetricNames(t.expr as string)) used.set(n, `panel "${p.title}"`);
      }
    }
    for (const v of dashboard.templating.list as Obj[]) {
      const m = /label_values\(\s*([A-Za-z_:][\w:]*)/.exec(String(v.query ?? ''));
      if (m) used.set(m[1]!, `variable $${v.name}`);
    }
    const rules = parse(read('deploy/observability/prometheus-alerts.yaml')) as Obj;
    const alerts = (rules.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
    expect(alerts.length).toBeGreaterThan(5);
    for (const r of alerts) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^Recon/);
      expect(r.labels?.severity, r.alert).toBeDefined();
      expect(r.annotations?.summary, r.alert).toBeDefined();
      for (const n of promqlMetricNames(r.expr as string)) used.set(n, `alert ${r.alert}`);
    }

    // Not vacuous: the files read the product's own metrics, histograms included.
    expect(used.has('recon_webhook_ack_seconds_bucket')).toBe(true);
    expect(used.has('recon_mismatches_open')).toBe(true);
    // …and the ones a platform team asks for first (issue #13).
    for (const n of [
      'recon_queue_jobs',
      'recon_queue_oldest_waiting_job_age_seconds',
      'recon_queue_dead_letter_jobs',
      'recon_sweep_last_success_timestamp_seconds',
      'recon_alert_deliveries_total',
      'recon_stripe_api_errors_total',
      'recon_mismatches_open_amount_at_risk',
    ])
      expect(used.has(n), n).toBe(true);
    // Every name the product exposes is recon_*.
    expect([...exposed].filter((n) => !n.startsWith('recon_'))).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used]
      .filter(([n]) => !exposed.has(n) && !PROMETHEUS_SERIES.has(n))
      .map(([n, where]) => `${n} (${where})`);
    expect(missing, 'metrics used by deploy/observability but absent from /metrics').toEqual([]);
  });

  it('the PromQL name extraction skips functions, keywords, labels and ranges', () => {
    expect(
      promqlMetricNames(
        'histogram_quantile(0.99, sum by (le) (rate(recon_webhook_ack_seconds_bucket{job=~"a|b", x="y"}[5m]))) > 1 and on (instance) up == 0',
      ).sort(),
    ).toEqual(['recon_webhook_ack_seconds_bucket', 'up']);
    expect(promqlMetricNames('count(min by (d) (m_up) == 0) or vector(0)')).toEqual(['m_up']);
  });
});
