/**
 * APQN discovery from the AP bus sysfs (APSYSFS_DEVSDIR, normally /sys/devices/ap): every
 * `cardXX` dir gives the generation and mode from its `type` (`CEX7P` → 7, ep11), and every queue
 * dir `XX.YYYY` below it is one APQN, online when its `online` file reads 1.
 */
import * as fs from 'fs';
import * as path from 'path';
import { cardDirName, queueDirName } from './ids';
import type { CexMode } from './config';

export interface Apqn {
  adapter: number;
  domain: number;
  /** Card generation: 7 for CEX7. */
  gen: number;
  mode: Exclude<CexMode, ''>;
  online: boolean;
}

export interface ApScan {
  apqns: Apqn[];
  /** Cards or queues that could not be read; they are left out (or offline) rather than failing the scan. */
  problems: string[];
}

const CARD_DIR = /^card([0-9a-f]{2})$/;
const QUEUE_DIR = /^([0-9a-f]{2})\.([0-9a-f]{4})$/;
const CARD_TYPE = /^CEX(\d+)([ACP])$/;
const MODES: Record<string, Apqn['mode']> = { A: 'accel', C: 'cca', P: 'ep11' };

/** Scan every card. Throws only when the devices dir itself cannot be read. */
export function scanApqns(devsDir: string): ApScan {
  const apqns: Apqn[] = [];
  const problems: string[] = [];
  for (const card of fs.readdirSync(devsDir).sort()) {
    const cardMatch = CARD_DIR.exec(card);
    if (!cardMatch) continue;
    const adapter = parseInt(cardMatch[1], 16);
    const cardDir = path.join(devsDir, card);
    const type = readFirstLine(path.join(cardDir, 'type'));
    const typeMatch = type === undefined ? null : CARD_TYPE.exec(type);
    if (!typeMatch) {
      problems.push(
        type === undefined
          ? `${card}: cannot read ${path.join(cardDir, 'type')}; card skipped`
          : `${card}: card type "${type}" is not CEX<gen><A|C|P>; card skipped`,
      );
      continue;
    }
    const gen = Number(typeMatch[1]);
    const mode = MODES[typeMatch[2]];
    let queues: string[];
    try {
      queues = fs.readdirSync(cardDir).sort();
    } catch (err) {
      problems.push(`${card}: cannot list queues: ${(err as Error).message}; card skipped`);
      continue;
    }
    for (const queue of queues) {
      const queueMatch = QUEUE_DIR.exec(queue);
      if (!queueMatch || parseInt(queueMatch[1], 16) !== adapter) continue;
      const domain = parseInt(queueMatch[2], 16);
      const online = readFirstLine(path.join(cardDir, queue, 'online'));
      if (online === undefined) problems.push(`${queue}: cannot read its online file; reported offline`);
      apqns.push({ adapter, domain, gen, mode, online: online?.startsWith('1') ?? false });
    }
  }
  return { apqns, problems };
}

/** The sysfs dir of one APQN (queue) under the devices dir. */
export function queueDir(devsDir: string, adapter: number, domain: number): string {
  return path.join(devsDir, cardDirName(adapter), queueDirName(adapter, domain));
}

/** The queue's `request_count`, or 0 when it cannot be read (for metrics only). */
export function requestCount(devsDir: string, adapter: number, domain: number): number {
  const value = Number(readFirstLine(path.join(queueDir(devsDir, adapter, domain), 'request_count')));
  return Number.isFinite(value) ? value : 0;
}

function readFirstLine(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').split('\n')[0].trim();
  } catch {
    return undefined;
  }
}
