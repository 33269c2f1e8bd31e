/**
 * The e2e tiers' scenario table (the API-server and DRA tiers): each scenario runs, prints PASS/FAIL with
 * its seconds at once, and `report()` prints the table at the end and gives the exit code.
 */
export interface Row {
  readonly scenario: string;
  readonly ok: boolean;
  readonly seconds: number;
  readonly detail: string;
}

export const rows: Row[] = [];

/** Runs `body` as one scenario; its string result is shown beside PASS, its error beside FAIL. */
export async function scenario(name: string, body: () => Promise<string | void>): Promise<boolean> {
  const started = Date.now();
  let ok = true;
  let detail = '';
  try {
    detail = (await body()) ?? '';
  } catch (err) {
    ok = false;
    detail = (err as Error).message;
  }
  const row = { scenario: name, ok, seconds: (Date.now() - started) / 1000, detail };
  rows.push(row);
  console.log(
    `${ok ? 'PASS' : 'FAIL'} ${name} (${row.seconds.toFixed(1)} s)${detail ? `: ${detail.split('\n')[0]}` : ''}`,
  );
  if (!ok && detail.includes('\n')) console.log(detail);
  return ok;
}

/** Prints the table (scenario, result, seconds) and a count; 1 when any scenario failed, else 0. */
export function report(footnote = ''): number {
  const width = Math.max(...rows.map((r) => r.scenario.length));
  console.log(`\n${'scenario'.padEnd(width)}  result  seconds`);
  for (const r of rows)
    console.log(
      `${r.scenario.padEnd(width)}  ${r.ok ? 'pass  ' : 'FAIL  '}  ${r.seconds.toFixed(1).padStart(7)}`,
    );
  const failed = rows.filter((r) => !r.ok).length;
  console.log(`\n${rows.length - failed} passed, ${failed} failed${footnote}`);
  return failed ? 1 : 0;
}
