import cliProgress from 'cli-progress';

/** A progress bar on a terminal; plain periodic lines otherwise (CI logs, pipes). */
export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr) {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} {detail}`,
        hideCursor: true,
        stream,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(value: number, total: number, detail = '') {
        if (!started) {
          bar.start(Math.max(total, 1), value, { detail });
          started = true;
        }
        bar.setTotal(Math.max(total, 1));
        bar.update(value, { detail });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update(value: number, total: number, detail = '') {
      const now = Date.now();
      if (now - last < 2_000 && value < total) return;
      last = now;
      stream.write(`${label}: ${value}/${total} ${detail}\n`);
    },
    stop() {},
  };
}
