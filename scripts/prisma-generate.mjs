// Runs `prisma generate` (postinstall, and the first step of `npm run build`) on machines that
// cannot download Prisma's schema-engine binary. Generating the TypeScript client does not need
// that engine, but the CLI insists on resolving one, so we point it at a do-nothing executable
// unless the user already has a real engine.
//
// `prisma` is a devDependency: a production install (`npm ci --omit=dev --omit=optional`) has no
// CLI, and needs none, since the client was compiled into dist/ at build time. There this prints
// one line and succeeds, as long as a generated client is present; `--require-cli` (the build)
// fails instead.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(
  root,
  'node_modules',
  '.bin',
  process.platform === 'win32' ? 'prisma.cmd' : 'prisma',
);
const schema = join(root, 'prisma', 'schema.prisma');
// A production install has no CLI (it is a devDependency) or, with the CLI pulled in anyway as
// @prisma/client's optional peer by a plain `npm ci --omit=dev`, no schema to generate from.
if (!existsSync(bin) || !existsSync(schema)) {
  const missing = existsSync(bin) ? 'prisma/schema.prisma not present' : 'prisma CLI not installed';
  const built = ['dist/generated/prisma/client.js', 'src/generated/prisma/client.ts'].find((f) =>
    existsSync(join(root, f)),
  );
  if (built && !process.argv.includes('--require-cli')) {
    console.log(`${missing} (production install): using the generated client in ${dirname(built)}`);
    process.exit(0);
  }
  console.error(
    `${missing} and no generated Prisma client: install with dev dependencies (\`npm ci\`), then \`npm run build\``,
  );
  process.exit(1);
}

const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const dir = mkdtempSync(join(tmpdir(), 'recon-prisma-'));
  const dummy = join(dir, 'schema-engine');
  writeFileSync(dummy, '#!/bin/sh\nexit 0\n');
  chmodSync(dummy, 0o755);
  env.PRISMA_SCHEMA_ENGINE_BINARY = dummy;
}
env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
const r = spawnSync(bin, ['generate'], { stdio: 'inherit', env, cwd: root });
process.exit(r.status ?? 1);
