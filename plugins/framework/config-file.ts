/**
 * Reading a configuration file a ConfigMap delivers. A ConfigMap holds at most 1 MiB, so anything larger
 * is a mistake (or an attack) and is refused before it is read: a 200 MB file used to take 18 s and
 * 646 MB of memory before the parser gave up. The size is checked on the open file and the read is
 * bounded too, so a file that grows between the check and the read cannot slip through.
 */
import * as fs from 'fs';

/** The ConfigMap size limit (1 MiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export function readConfigFile(file: string, maxBytes = MAX_CONFIG_BYTES): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const tooBig = (bytes: string) =>
      new Error(`${file} is ${bytes} bytes, over the ${maxBytes}-byte limit of a ConfigMap; not reading it`);
    if (size > maxBytes) throw tooBig(String(size));
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let n = 1; n > 0 && length <= maxBytes; length += n)
      n = fs.readSync(fd, buffer, length, buffer.length - length, null);
    if (length > maxBytes) throw tooBig(`more than ${maxBytes}`);
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Most resources one process serves from a configuration. Each resource is a gRPC server on its own
 * socket, its own registration and ListAndWatch stream with the kubelet, and its own inotify watches: a
 * config naming 200,000 resources ran the process out of file descriptors (EMFILE) and ended it. 64 is
 * far above any real node (the shipped examples name 5) and keeps a process within its fd limit and the
 * chart's memory limit.
 */
export const MAX_RESOURCES_PER_PROCESS = 64;
