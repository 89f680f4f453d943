// `npm run build`: the compiled CLI and server in dist/ (what bin/recon.js runs in production).
//   1. generate the Prisma client into src/generated/prisma (from prisma/schema.prisma), so the
//      build never compiles a stale or missing client;
//   2. tsc -p tsconfig.build.json: src/ -> dist/ (relative `.ts` imports rewritten to `.js`), the
//      generated client included, so a production install needs neither the prisma CLI nor a
//      generate step at start;
//   3. copy the files src/ reads at run time that tsc does not emit (the console's static files
//      and src/domain/money-format.js, which the console loads as well).
// `--out-dir DIR` builds elsewhere (the production-build test uses a temp folder).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--out-dir');
const outDir = resolve(root, i > 0 ? process.argv[i + 1] : 'dist');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${cmd} ${args.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
}

// `--skip-generate`: use the client `npm ci` generated (the production-build test, which must not
// rewrite src/generated while other test files import it).
if (!process.argv.includes('--skip-generate')) {
  run(process.execPath, [join(root, 'scripts/prisma-generate.mjs'), '--require-cli']);
}
if (!existsSync(join(root, 'src/generated/prisma/client.ts'))) {
  console.error('build: the Prisma client was not generated into src/generated/prisma');
  process.exit(1);
}
rmSync(outDir, { recursive: true, force: true });
run(process.execPath, [
  join(root, 'node_modules/typescript/bin/tsc'),
  '-p',
  'tsconfig.build.json',
  '--outDir',
  outDir,
]);
const assets = readdirSync(join(root, 'src/console')).filter((f) => /\.(html|css|js)$/.test(f));
for (const f of assets) cpSync(join(root, 'src/console', f), join(outDir, 'console', f));
// The money formatter is plain JavaScript (typed by a .d.ts) so that the console loads it too.
cpSync(join(root, 'src/domain/money-format.js'), join(outDir, 'domain/money-format.js'));
console.log(`build: ${outDir} (console assets: ${assets.join(', ')})`);
