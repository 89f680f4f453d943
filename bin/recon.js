#!/usr/bin/env node
// Launcher. A production install runs the compiled CLI (dist/, from `npm run build`). A dev
// checkout without a build runs the TypeScript source through tsx (a devDependency);
// RECON_FROM_SOURCE=1 forces the source when both exist (the CLI tests set it, so a stale dist/
// left by an earlier build is never what they test).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

if (existsSync(compiled) && process.env.RECON_FROM_SOURCE !== '1') {
  await import(compiled.href);
} else if (existsSync(source)) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error(
      'recon: dist/cli/main.js is missing and tsx is not installed: run `npm ci && npm run build` ' +
        '(a production install needs the built dist/)',
    );
    process.exit(1);
  }
  register();
  await import(source.href);
} else {
  console.error(
    'recon: dist/cli/main.js is missing: this install has no build; run `npm run build`',
  );
  process.exit(1);
}
