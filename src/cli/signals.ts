// What a signal does to a command. By default Ctrl-C (SIGINT), SIGTERM and SIGHUP end it through
// process.exit, so that the exit handlers run (they remove unfinished temporary files); a command
// that trains saves its position first instead.

const exitCodes: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** The default: each signal exits with 128 + its number, unless a command listens for it itself. */
export function exitOnSignals(): void {
  for (const [s, code] of Object.entries(exitCodes) as [NodeJS.Signals, number][]) {
    process.on(s, () => {
      if (process.listenerCount(s) === 1) process.exit(code);
    });
  }
}

/** Ctrl-C (SIGINT) or a polite kill (SIGTERM): save the position after this step; a second one quits at once. */
export function stopOnSignal(): { shouldStop: () => boolean; exitCode: () => number; release: () => void } {
  let signal: NodeJS.Signals | null = null;
  const onSignal = (s: NodeJS.Signals) => {
    if (signal) process.exit(exitCodes[s]!);
    signal = s;
    // In a data-parallel run the signal reaches every worker; rank 0 speaks for them.
    if (process.env.RANK && process.env.RANK !== '0') return;
    process.stderr.write(
      `\n${s === 'SIGINT' ? 'interrupted' : 'terminated'}: saving after this step (${s === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit at once)\n`,
    );
  };
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, onSignal);
  return {
    shouldStop: () => signal !== null,
    exitCode: () => exitCodes[signal ?? 'SIGINT']!,
    release: () => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.off(s, onSignal);
    },
  };
}
