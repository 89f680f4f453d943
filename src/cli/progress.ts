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

/**
 * One reading of a command that runs in phases, each with its own bar: a phase whose total is
 * known gets a bar and an ETA; one whose total is not (listing pages from Stripe, reading a
 * file) shows its count only, because a bar whose end keeps moving says nothing true.
 */
export interface PhaseReading {
  /** Shown before the bar: "validating", "reconciling". A new name starts a new bar. */
  phase: string;
  /** Done so far in this phase. */
  value: number;
  /** The phase's end, or null while it is unknown (no bar, no ETA). */
  total: number | null;
  /** What value counts ("rows", "units"); empty shows no count. */
  unit: string;
  detail?: string;
}

export interface PhasedProgress {
  update(reading: PhaseReading): void;
  /** Ends the current phase, leaving its last reading on screen. */
  stop(): void;
}

/** `1h 02m`, `3m 05s`, `42s`: an ETA to the second is noise, to the hour is useless. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3_600)
    return `${Math.floor(s / 3_600)}h ${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * The text of one reading, without the bar: "reconciling 40/100 units (40%), ETA 12s — detail".
 * `etaSeconds` is shown only with a known total, some progress, and something left to do.
 */
export function describeReading(r: PhaseReading, etaSeconds: number | null): string {
  const parts = [r.phase];
  if (r.unit) {
    if (r.total === null) parts.push(`${r.value} ${r.unit}`);
    else {
      const pct = Math.floor((100 * Math.min(r.value, r.total)) / Math.max(r.total, 1));
      parts.push(`${r.value}/${r.total} ${r.unit} (${pct}%)`);
    }
  }
  let text = parts.join(' ');
  if (
    r.total !== null &&
    r.value > 0 &&
    r.value < r.total &&
    etaSeconds !== null &&
    Number.isFinite(etaSeconds)
  )
    text += `, ETA ${formatEta(etaSeconds)}`;
  return r.detail ? `${text} — ${r.detail}` : text;
}

/**
 * Progress in phases: on a terminal a cli-progress bar per phase (the previous phase's last line
 * stays above the next), elsewhere (CI logs, pipes) a line per phase and at most one every 2 s.
 */
export function createPhasedProgress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  now: () => number = Date.now,
): PhasedProgress {
  return stream.isTTY ? ttyPhases(label, stream) : linePhases(label, stream, now);
}

function ttyPhases(label: string, stream: NodeJS.WriteStream): PhasedProgress {
  let bar: cliProgress.SingleBar | null = null;
  let current: PhaseReading | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    update(r) {
      // A new phase, or a total that just became known (the format differs): a new bar.
      if (!bar || current?.phase !== r.phase || (current.total === null) !== (r.total === null)) {
        stop();
        bar = new cliProgress.SingleBar(
          {
            stream,
            hideCursor: true,
            // cli-progress computes the ETA from recent updates; the text is ours, so a terminal
            // and a log say the same thing.
            format: (options, params, payload: { reading: PhaseReading }) => {
              const eta = typeof params.eta === 'number' ? params.eta : null;
              const text = describeReading(payload.reading, eta);
              return payload.reading.total === null
                ? `${label}: ${text}`
                : `${label}: [${cliProgress.Format.BarFormat(params.progress, options)}] ${text}`;
            },
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(r.total ?? 1, 1), r.total === null ? 0 : r.value, { reading: r });
      }
      current = r;
      if (r.total !== null) bar.setTotal(Math.max(r.total, 1));
      bar.update(r.total === null ? 0 : r.value, { reading: r });
    },
    stop,
  };
}

function linePhases(label: string, stream: NodeJS.WriteStream, now: () => number): PhasedProgress {
  let current: PhaseReading | null = null;
  let phaseStarted = 0;
  let firstValue = 0;
  let lastWritten = 0;
  let pending = false;
  const write = (r: PhaseReading) => {
    const elapsedSec = (now() - phaseStarted) / 1_000;
    // Linear: the rate since the phase's first reading, applied to what is left. That reading
    // often arrives with work already done (the first chunk), so it is the baseline, not zero.
    const done = r.value - firstValue;
    const eta = r.total !== null && done > 0 ? (elapsedSec * (r.total - r.value)) / done : null;
    stream.write(`${label}: ${describeReading(r, eta)}\n`);
    lastWritten = now();
    pending = false;
  };
  return {
    update(r) {
      if (current && current.phase !== r.phase && pending) write(current);
      if (!current || current.phase !== r.phase) {
        current = r;
        phaseStarted = now();
        firstValue = r.value;
        write(r);
        return;
      }
      current = r;
      pending = true;
      if (now() - lastWritten >= 2_000 || (r.total !== null && r.value >= r.total)) write(r);
    },
    stop() {
      if (current && pending) write(current);
    },
  };
}
