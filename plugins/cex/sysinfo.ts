/** The machine id `<Manufacturer>-<Type>-<Sequence Code>` from /proc/sysinfo (PROC_SYSINFO_FILE). */
import * as fs from 'fs';

const FIELDS = { manufacturer: 'Manufacturer', type: 'Type', sequence: 'Sequence Code' } as const;

/** Parse sysinfo text. Each field is taken from the first line that starts with it. */
export function machineIdFromSysinfo(text: string): string {
  const values: Partial<Record<keyof typeof FIELDS, string>> = {};
  for (const line of text.split('\n')) {
    for (const [key, label] of Object.entries(FIELDS) as [keyof typeof FIELDS, string][]) {
      if (values[key] !== undefined) continue;
      const match = new RegExp(`^${label}:\\s+(.+)$`).exec(line.trim());
      if (match) values[key] = match[1].trim();
    }
  }
  const missing = (Object.keys(FIELDS) as (keyof typeof FIELDS)[]).filter((k) => !values[k]);
  if (missing.length)
    throw new Error(`no ${missing.map((k) => `"${FIELDS[k]}:"`).join(', ')} line in sysinfo`);
  return `${values.manufacturer}-${values.type}-${values.sequence}`;
}

export function readMachineId(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file} (PROC_SYSINFO_FILE): ${(err as Error).message}`);
  }
  try {
    return machineIdFromSysinfo(text);
  } catch (err) {
    throw new Error(`${file} (PROC_SYSINFO_FILE): ${(err as Error).message}`);
  }
}
