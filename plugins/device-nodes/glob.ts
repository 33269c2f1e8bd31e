/**
 * A small glob matcher for device nodes under the devfs root (no dependency): `*`, `?`, `[abc]`, `[a-z]`,
 * `[!x]` within one path segment, `/` between segments, `\` to escape. No `**`: /dev trees are shallow.
 * As in a shell, a wildcard does not match a leading `.` unless the pattern segment starts with one.
 */
import * as fs from 'fs';
import * as path from 'path';

type Segment = { literal: string } | { regex: RegExp; source: string };

export interface Glob {
  pattern: string;
  segments: Segment[];
}

export class GlobError extends Error {}

/** Compile a pattern relative to the devfs root; throws GlobError saying what is wrong with it. */
export function compileGlob(pattern: string): Glob {
  if (pattern.length === 0) throw new GlobError('the glob is empty');
  if (pattern.startsWith('/'))
    throw new GlobError(`glob "${pattern}" must be relative to the devfs root (no leading /)`);
  const parts = pattern.split('/');
  for (const part of parts) {
    if (part === '') throw new GlobError(`glob "${pattern}" has an empty path segment`);
    if (part === '.' || part === '..') throw new GlobError(`glob "${pattern}" may not contain "${part}"`);
  }
  return { pattern, segments: parts.map((part) => compileSegment(part, pattern)) };
}

function compileSegment(part: string, pattern: string): Segment {
  let regex = '';
  let literal = '';
  let wild = false;
  for (let i = 0; i < part.length; i++) {
    const c = part[i];
    if (c === '\\') {
      if (i + 1 >= part.length) throw new GlobError(`glob "${pattern}" ends with a lone backslash`);
      literal += part[++i];
      regex += escapeRegex(part[i]);
    } else if (c === '*' || c === '?') {
      wild = true;
      regex += c === '*' ? '.*' : '.';
    } else if (c === '[') {
      const end = classEnd(part, i);
      if (end < 0) throw new GlobError(`glob "${pattern}" has an unclosed "["`);
      wild = true;
      regex += classRegex(part.slice(i + 1, end));
      i = end;
    } else {
      literal += c;
      regex += escapeRegex(c);
    }
  }
  return wild ? { regex: new RegExp(`^${regex}$`), source: part } : { literal };
}

/** Index of the `]` closing the class opened at `start`; a `]` first in the class is a member. */
function classEnd(part: string, start: number): number {
  let i = start + 1;
  if (part[i] === '!' || part[i] === '^') i++;
  if (part[i] === ']') i++;
  for (; i < part.length; i++) if (part[i] === ']') return i;
  return -1;
}

function classRegex(body: string): string {
  const negate = body.startsWith('!') || body.startsWith('^');
  const members = (negate ? body.slice(1) : body).replace(/[\\\]^]/g, (c) => `\\${c}`);
  return `[${negate ? '^' : ''}${members}]`;
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, (m) => `\\${m}`);
}

function matches(segment: Segment, name: string): boolean {
  if ('literal' in segment) return segment.literal === name;
  if (name.startsWith('.') && !segment.source.startsWith('.')) return false;
  return segment.regex.test(name);
}

/**
 * Every entry under `root` matching the glob, as paths relative to `root`, sorted. Directories in the
 * middle of the pattern are followed (also through symlinks); the last segment matches entries of any
 * type except directories, so callers can report a stray regular file instead of silently ignoring it.
 */
export function matchGlob(root: string, glob: Glob): string[] {
  return walkGlob(root, glob).found;
}

/**
 * Every directory (relative to `root`, '' for the root itself) whose entries decide what the glob matches:
 * the fixed directories down to the first wildcard, and every directory a wildcard directory segment
 * matches (for USB nodes under `bus/usb`, each bus directory `bus/usb/001`, `bus/usb/002`…). Watching these
 * sees every node the glob could match appear or go, and every directory on the way to one.
 */
export function globWatchDirs(root: string, glob: Glob): string[] {
  return walkGlob(root, glob).dirs;
}

function walkGlob(root: string, glob: Glob): { found: string[]; dirs: string[] } {
  const found: string[] = [];
  const dirs: string[] = [];
  const walk = (rel: string, depth: number) => {
    dirs.push(rel);
    const segment = glob.segments[depth];
    const last = depth === glob.segments.length - 1;
    const names = 'literal' in segment ? [segment.literal] : readDir(path.join(root, rel));
    for (const name of names) {
      if (!matches(segment, name)) continue;
      const child = rel ? `${rel}/${name}` : name;
      const isDir = statIsDirectory(path.join(root, child));
      if (isDir === undefined) continue; // absent (a dangling link still counts: lstat sees it below)
      if (last && !isDir) found.push(child);
      else if (!last && isDir) walk(child, depth + 1);
    }
  };
  walk('', 0);
  return { found: found.sort(), dirs: dirs.sort() };
}

function readDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return []; // missing or not a directory: nothing matches below it
  }
}

/**
 * true / false for an existing entry, following links; a dangling or looping link, or one we may not
 * follow, is "not a directory" (so the caller's probe reports it), never an exception.
 */
function statIsDirectory(file: string): boolean | undefined {
  try {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (st) return st.isDirectory();
    return fs.lstatSync(file, { throwIfNoEntry: false }) ? false : undefined;
  } catch {
    return false;
  }
}

/** The wildcard-free directory prefix of a glob, relative to the root ('' when the first segment is wild). */
export function globBaseDir(glob: Glob): string {
  const dirs: string[] = [];
  for (const segment of glob.segments.slice(0, -1)) {
    if (!('literal' in segment)) break;
    dirs.push(segment.literal);
  }
  return dirs.join('/');
}

/** A relative dir and all its ancestors up to the root: `a/b` → `['', 'a', 'a/b']`. */
export function withAncestors(rel: string): string[] {
  if (!rel) return [''];
  const parts = rel.split('/');
  return ['', ...parts.map((_, i) => parts.slice(0, i + 1).join('/'))];
}
