// Runs `prisma generate` on machines that cannot download Prisma's schema-engine binary.
// Generating the TypeScript client does not need that engine, but the CLI insists on resolving
// one, so we point it at a do-nothing executable unless the user already has a real engine.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const dir = mkdtempSync(join(tmpdir(), 'recon-prisma-'));
  const dummy = join(dir, 'schema-engine');
  writeFileSync(dummy, '#!/bin/sh\nexit 0\n');
  chmodSync(dummy, 0o755);
  env.PRISMA_SCHEMA_ENGINE_BINARY = dummy;
}
env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
const bin = join('node_modules', '.bin', process.platform === 'win32' ? 'prisma.cmd' : 'prisma');
if (!existsSync(bin)) {
  console.log('prisma CLI not installed (production install?); skipping client generation');
  process.exit(0);
}
const r = spawnSync(bin, ['generate'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
