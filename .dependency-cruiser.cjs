/**
 * The layers of src/, bottom to top; an import may only run down (or stay inside its folder):
 *
 *   domain/                pure rules: imports nothing else in src/
 *   plumbing               db/ log/ config/ queue/ stripe/ generated/ errors.ts metrics.ts
 *                          runtime.ts (the shared handles every feature takes) scrape-metrics.ts
 *   features               inbox/ projections/ reconciliation/ ledger/ reports/ alerts/ sweep/
 *   entry points           receiver/ api/ console/ cli/ demo/ simulator/ app.ts roles.ts
 *
 * A feature does not import a sibling feature's internals. It may import only a sibling's entry
 * points, listed in FEATURE_ENTRY_POINTS below with the reason each one is public.
 * `npm run lint` runs this (`depcruise src`); see docs/architecture.md, "Layers".
 */

const DOMAIN = '^src/domain/';
const PLUMBING = [
  '^src/(db|log|config|queue|stripe|generated)/',
  '^src/(errors|metrics|runtime|scrape-metrics)\\.ts$',
];
const FEATURES = '^src/(inbox|projections|reconciliation|ledger|reports|alerts|sweep)/';
const ENTRY_POINTS = ['^src/(receiver|api|console|cli|demo|simulator)/', '^src/(app|roles)\\.ts$'];

/** What one feature may import from another. Keep this short: each line is a public surface. */
const FEATURE_ENTRY_POINTS = [
  // The inbox's statements: the one owner of `stripe_events`, called by the projection and sweep.
  '^src/inbox/statements\\.ts$',
  // The one envelope check (admit into the inbox / read for the projection) and InvalidEventError.
  '^src/inbox/envelope\\.ts$',
  // applyEvents / applySnapshots: the one write path into the projections (webhooks, sweep, lookups).
  '^src/projections/apply\\.ts$',
  // Mark units for reconciling in the writer's transaction (touchUnits) and wake the drain.
  '^src/reconciliation/(outbox|enqueue)\\.ts$',
  // The mismatch row and its JSON shape, read by reports and alerts; MismatchChanges (alerts hook);
  // the alert claims on `notified_severity` (persist: reconciliation owns `mismatches`).
  '^src/reconciliation/(mismatch-record|persist)\\.ts$',
  // What the sweep runs after listing (reconcileAllNarrowed), and lookups confirmed by the sweep.
  '^src/reconciliation/(sweep-reconcile|lookup-store)\\.ts$',
  // Where the reconciler reads ledger entries, and which unit an entry belongs to.
  '^src/ledger/(source|units)\\.ts$',
  // Stored reports and their summary, for the sweep and the sweep-summary alert.
  '^src/reports/(store|summary)\\.ts$',
  // The alert queue (sweep summary / failure) and the summary's message shape.
  '^src/alerts/(queue|messages)\\.ts$',
];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain is the bottom layer: it imports nothing else in src/.',
      from: { path: DOMAIN },
      to: { path: '^src/', pathNot: DOMAIN },
    },
    {
      name: 'plumbing-not-up',
      severity: 'error',
      comment: 'Plumbing imports only domain/ and plumbing, never a feature or an entry point.',
      from: { path: PLUMBING },
      to: { path: [FEATURES, ...ENTRY_POINTS] },
    },
    {
      name: 'features-not-up',
      severity: 'error',
      comment: 'A feature never imports an entry point (receiver/, api/, cli/, …).',
      from: { path: FEATURES },
      to: { path: ENTRY_POINTS },
    },
    {
      name: 'no-sibling-feature-internals',
      severity: 'error',
      comment:
        'A feature imports a sibling feature only through its entry points (FEATURE_ENTRY_POINTS in .dependency-cruiser.cjs).',
      from: { path: '^src/([^/]+)/', pathNot: [DOMAIN, ...PLUMBING, ...ENTRY_POINTS] },
      to: {
        path: FEATURES,
        pathNot: ['^src/$1/', ...FEATURE_ENTRY_POINTS],
      },
    },
    {
      name: 'every-module-in-a-layer',
      severity: 'error',
      comment:
        'A new top-level file or folder in src/ must be given a layer in .dependency-cruiser.cjs.',
      from: { path: '^src/', pathNot: [DOMAIN, ...PLUMBING, FEATURES, ...ENTRY_POINTS] },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      // The console's browser script imports a URL the console route serves (routes.ts).
      from: { pathNot: '^src/console/console\\.js$' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^src/generated/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts', '.json'],
    },
  },
};
