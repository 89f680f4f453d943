import { spawnSync } from 'node:child_process';
import { accessSync, constants, createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';

/**
 * Headless Chromium for the browser tests, with no browser download (machines are offline):
 * Debian's `/usr/bin/chromium` when it is installed, else the Chromium binary that the npm
 * devDependency `@sparticuz/chromium` ships brotli-compressed inside its package, extracted once
 * into `node_modules/.cache/` of this checkout. So `npm ci && npm test` needs no apt package.
 *
 * `RECON_TEST_CHROMIUM` chooses: unset or `auto` (system if present, else bundled), `system`,
 * `bundled`, or the path of a Chromium executable.
 */

export const SYSTEM_CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The Chromium executable to drive, extracting the bundled one on first use. */
export async function chromiumExecutable(
  choice = process.env.RECON_TEST_CHROMIUM ?? 'auto',
): Promise<{ path: string; source: 'system' | 'bundled' | 'env' }> {
  if (choice === 'auto' || choice === '') {
    if (isExecutable(SYSTEM_CHROMIUM)) return { path: SYSTEM_CHROMIUM, source: 'system' };
    return { path: await bundledChromium(), source: 'bundled' };
  }
  if (choice === 'system') {
    if (!isExecutable(SYSTEM_CHROMIUM)) {
      throw new Error(`RECON_TEST_CHROMIUM=system but ${SYSTEM_CHROMIUM} is not installed`);
    }
    return { path: SYSTEM_CHROMIUM, source: 'system' };
  }
  if (choice === 'bundled') return { path: await bundledChromium(), source: 'bundled' };
  if (!isExecutable(choice)) throw new Error(`RECON_TEST_CHROMIUM=${choice} is not an executable`);
  return { path: choice, source: 'env' };
}

/**
 * Extracts `@sparticuz/chromium`'s `bin/chromium.br` (and the SwiftShader libraries Chromium
 * loads from its own folder) into a folder named for the package version. The package's own
 * `executablePath()` is not used: it extracts into the shared `/tmp/chromium` and reuses whatever
 * is there, whichever version, and two test files starting at once would race on it. Here each
 * extraction goes to a private folder renamed into place, so concurrent test files are safe.
 */
export async function bundledChromium(): Promise<string> {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    // The package's `exports` do not list package.json: find it above the resolved entry point.
    let d = dirname(require.resolve('@sparticuz/chromium'));
    while (!d.endsWith(join('@sparticuz', 'chromium')) && dirname(d) !== d) d = dirname(d);
    pkgJson = join(d, 'package.json');
  } catch {
    throw new Error(
      `no Chromium: ${SYSTEM_CHROMIUM} is missing and the devDependency @sparticuz/chromium is not installed (run \`npm ci\`)`,
    );
  }
  const { version } = JSON.parse(await readFile(pkgJson, 'utf8')) as { version: string };
  const bin = join(dirname(pkgJson), 'bin');
  const dir = join(REPO_ROOT, 'node_modules/.cache/recon-chromium', version);
  const exe = join(dir, 'chromium');
  if (isExecutable(exe)) return exe;

  const tmp = `${dir}.${process.pid}.${Date.now()}.tmp`;
  await mkdir(tmp, { recursive: true });
  try {
    await pipeline(
      createReadStream(join(bin, 'chromium.br')),
      createBrotliDecompress(),
      createWriteStream(join(tmp, 'chromium'), { mode: 0o755 }),
    );
    const swiftshader = join(bin, 'swiftshader.tar.br');
    if (existsSync(swiftshader)) {
      const tar = join(tmp, 'swiftshader.tar');
      await pipeline(
        createReadStream(swiftshader),
        createBrotliDecompress(),
        createWriteStream(tar),
      );
      const r = spawnSync('tar', ['-xf', tar, '--no-same-owner', '-C', tmp], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`tar failed extracting SwiftShader: ${r.stderr}`);
      await rm(tar);
    }
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another test file finished first: use its copy.
      if (!isExecutable(exe)) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return exe;
}

/** Headless Chromium for browser tests: system or bundled, see {@link chromiumExecutable}. */
export async function launchBrowser(): Promise<Browser> {
  const { path } = await chromiumExecutable();
  return chromium.launch({ executablePath: path, headless: true, args: CHROMIUM_ARGS });
}
