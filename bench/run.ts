/**
 * `npm run bench`: run every scenario in bench/scenarios and write BENCHMARKS.md. BENCH_ONLY=a,b filters
 * (BENCHMARKS.md is then left as it is, unless BENCH_UPDATE=1: then only those sections are replaced).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BenchRow, BenchScenario } from './scenario';

function loadScenarios(): BenchScenario[] {
  const dir = path.join(__dirname, 'scenarios');
  const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
  return (
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.js'))
      .sort()
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- modules found at run time by file name
      .map((f) => (require(path.join(dir, f)) as { bench: BenchScenario }).bench)
      .filter((b) => !only || only.includes(b.name))
  );
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

async function main(): Promise<void> {
  const sections: string[] = [];
  for (const scenario of loadScenarios()) {
    const why = scenario.unavailable?.();
    if (why) {
      console.log(`${scenario.name}: skipped (${why})`);
      sections.push(`## ${scenario.name}\n\nNot run: ${why}\n`);
      continue;
    }
    console.log(`${scenario.name}: running`);
    const rows: BenchRow[] = await scenario.run();
    const table = ['| metric | result | target | met |', '| --- | --- | --- | --- |'];
    for (const r of rows) {
      table.push(
        `| ${r.metric} | ${r.value} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`,
      );
      console.log(`  ${r.metric}: ${r.value}${r.target ? ` (target ${r.target})` : ''}`);
    }
    const notes = (scenario.notes ?? []).map((n) => `- ${n}`).join('\n');
    // A section replaced on its own (BENCH_UPDATE=1) says when, where and how it was run: the file's header
    // speaks of the last full run.
    const run =
      process.env.BENCH_UPDATE === '1'
        ? `Run on its own: ${new Date().toISOString().slice(0, 10)}, ${machine()}, \`BENCH_ONLY=${process.env.BENCH_ONLY} BENCH_UPDATE=1 npm run bench\`.\n\n`
        : '';
    sections.push(`## ${scenario.name}\n\n${run}${table.join('\n')}\n${notes ? `\n${notes}\n` : ''}`);
  }
  // Figures that need more than one Node binary come from their own script (bench/node-lts.ts) and are kept
  // in bench/results/, copied in as they are.
  const nodeLts = path.join(__dirname, '..', '..', 'bench', 'results', 'node-lts.md');
  if (fs.existsSync(nodeLts)) sections.push(`## Node LTS\n\n${fs.readFileSync(nodeLts, 'utf8')}`);
  const doc = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (bench/run.ts); do not edit by hand.',
    '',
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
    `- Machine: ${machine()}`,
    '- Command: `npm run bench` (as root, so the netdevice and device-node scenarios can create veths and device nodes)',
    '',
    ...sections,
  ].join('\n');
  if (process.env.BENCH_ONLY && process.env.BENCH_UPDATE === '1') {
    // Only the scenarios run are replaced (or added before "## Node LTS"); every other section is kept.
    const file = path.join(__dirname, '..', '..', 'BENCHMARKS.md');
    let text = fs.readFileSync(file, 'utf8');
    for (const section of sections) {
      const heading = section.slice(0, section.indexOf('\n'));
      const start = text.indexOf(`${heading}\n`);
      if (start >= 0) {
        const next = /\n(## |<!-- faults:begin -->)/g;
        next.lastIndex = start + heading.length;
        const end = next.exec(text)?.index ?? text.length;
        text = `${text.slice(0, start)}${section}${text.slice(end)}`;
      } else {
        const at = text.indexOf('## Node LTS');
        text = at >= 0 ? `${text.slice(0, at)}${section}\n${text.slice(at)}` : `${text}\n${section}`;
      }
    }
    fs.writeFileSync(file, text);
    console.log(`BENCH_UPDATE=1: replaced ${sections.length} section(s) of BENCHMARKS.md`);
  } else if (process.env.BENCH_ONLY) {
    console.log('BENCH_ONLY set: BENCHMARKS.md left unchanged (BENCH_UPDATE=1 replaces just those sections)');
  } else {
    const file = path.join(__dirname, '..', '..', 'BENCHMARKS.md');
    // The fault tier's section (figures from `npm run faults`, written by hand) is kept as it is.
    const faults = fs.existsSync(file)
      ? /<!-- faults:begin -->[\s\S]*<!-- faults:end -->\n/.exec(fs.readFileSync(file, 'utf8'))?.[0]
      : undefined;
    fs.writeFileSync(file, faults ? `${doc}\n${faults}` : doc);
    console.log('wrote BENCHMARKS.md');
  }
  process.exit(0);
}

void main();
