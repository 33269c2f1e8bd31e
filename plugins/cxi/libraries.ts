/**
 * The user-space libraries a Slingshot workload needs from the host: every `libcxi*` file in
 * CXI_ROOT and every `libfabric*` file in OFI_ROOT, bind-mounted read-only at the same path, with
 * LD_LIBRARY_PATH pointing at both directories.
 */
import * as fs from 'fs';
import * as path from 'path';

export const LIBCXI_PREFIX = 'libcxi';
export const LIBFABRIC_PREFIX = 'libfabric';

/**
 * Absolute paths of the entries of `dir` named `<prefix>*` that are (or link to) regular files,
 * sorted. Directories (e.g. a `libfabric/` provider dir) and dangling or looping links are left out:
 * they cannot be bind-mounted as library files.
 */
export function libraryFiles(dir: string, prefix: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.startsWith(prefix))
    .sort()
    .map((name) => path.join(dir, name))
    .filter(isFileOrLinkToOne);
}

/** A looping link (ELOOP) or one we may not follow is as unusable as a dangling one: left out, never thrown. */
function isFileOrLinkToOne(file: string): boolean {
  try {
    return fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    return false;
  }
}

/** libcxi files first, then libfabric files. */
export function cxiLibraries(cxiRoot: string, ofiRoot: string): string[] {
  return [...libraryFiles(cxiRoot, LIBCXI_PREFIX), ...libraryFiles(ofiRoot, LIBFABRIC_PREFIX)];
}

/** `<OFI_ROOT>:<CXI_ROOT>`, upstream's order (libfabric first). */
export function ldLibraryPath(ofiRoot: string, cxiRoot: string): string {
  return `${ofiRoot}:${cxiRoot}`;
}
