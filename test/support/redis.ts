import { execFileSync } from 'node:child_process';

/** A throwaway Redis we can stop and start (no persistence: a restart loses every job). */
export class ScratchRedis {
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  start() {
    execFileSync('redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--daemonize',
      'yes',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ]);
  }
  stop() {
    try {
      execFileSync('redis-cli', ['-p', String(this.port), 'shutdown', 'nosave'], {
        stdio: 'ignore',
      });
    } catch {
      // redis-cli exits non-zero when the server closes the connection on shutdown
    }
  }
}
