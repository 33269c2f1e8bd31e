import * as fs from 'fs';
import * as path from 'path';
import {
  compileGlob,
  globBaseDir,
  globWatchDirs,
  matchGlob,
  withAncestors,
} from '../../../plugins/device-nodes';
import { removeDir, tempDir } from '../../helpers/tmp';

describe('compileGlob', () => {
  test.each([
    ['', /empty/],
    ['/dev/kvm', /relative to the devfs root/],
    ['a//b', /empty path segment/],
    ['../kvm', /may not contain "\.\."/],
    ['./kvm', /may not contain "\."/],
    ['crand[0-9', /unclosed "\["/],
    ['crand\\', /lone backslash/],
  ])('refuses %j with a reason', (pattern, reason) => {
    expect(() => compileGlob(pattern)).toThrow(reason);
  });

  test('the fixed directory of a pattern, and its ancestors', () => {
    expect(globBaseDir(compileGlob('crand*'))).toBe('');
    expect(globBaseDir(compileGlob('dri/renderD*'))).toBe('dri');
    expect(globBaseDir(compileGlob('serial/by-id/usb-*'))).toBe('serial/by-id');
    expect(globBaseDir(compileGlob('vfio/*/x'))).toBe('vfio');
    expect(withAncestors('')).toEqual(['']);
    expect(withAncestors('serial/by-id')).toEqual(['', 'serial', 'serial/by-id']);
  });
});

describe('matchGlob', () => {
  let root: string;
  beforeAll(() => {
    root = tempDir('kdg-');
    for (const f of [
      'crand0',
      'crand1',
      'crand2',
      'crand10',
      'crandx',
      '.crand9',
      'c*star',
      'dri/renderD128',
      'dri/renderD129',
      'dri/card0',
      'a/card0',
      'b/card0',
    ]) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), '');
    }
    fs.mkdirSync(path.join(root, 'crand-dir'));
    fs.symlinkSync('/nonexistent', path.join(root, 'crand-dangling'));
  });
  afterAll(() => removeDir(root));
  const match = (pattern: string) => matchGlob(root, compileGlob(pattern));

  test('* and ? within a segment; directories at the end are not nodes; dangling links are', () => {
    expect(match('crand*')).toEqual(['crand-dangling', 'crand0', 'crand1', 'crand10', 'crand2', 'crandx']);
    expect(match('crand?')).toEqual(['crand0', 'crand1', 'crand2', 'crandx']);
  });

  test('character classes, ranges and negation', () => {
    expect(match('crand[0-1]')).toEqual(['crand0', 'crand1']);
    expect(match('crand[!0-1x]')).toEqual(['crand2']);
    expect(match('crand[^0-1x]')).toEqual(['crand2']);
    expect(match('crand[0-9]*')).toEqual(['crand0', 'crand1', 'crand10', 'crand2']);
  });

  test('a leading dot is matched only by a pattern that starts with one', () => {
    expect(match('*9')).toEqual([]);
    expect(match('.crand*')).toEqual(['.crand9']);
  });

  test('escapes and regex characters are literal', () => {
    expect(match('c\\*star')).toEqual(['c*star']);
    expect(match('crand.')).toEqual([]);
  });

  test('segments through directories, fixed or wild', () => {
    expect(match('dri/renderD*')).toEqual(['dri/renderD128', 'dri/renderD129']);
    expect(match('*/card0')).toEqual(['a/card0', 'b/card0', 'dri/card0']);
    expect(match('missing/*')).toEqual([]);
    expect(match('crand0/*')).toEqual([]);
  });

  test('the directories to watch: every one the glob looks into, wildcard directories included', () => {
    const watch = (pattern: string) => globWatchDirs(root, compileGlob(pattern));
    expect(watch('crand*')).toEqual(['']);
    expect(watch('dri/renderD*')).toEqual(['', 'dri']);
    expect(watch('*/card0')).toEqual(['', 'a', 'b', 'crand-dir', 'dri']);
    // A fixed directory that does not exist yet: its parent is watched, so its creation is seen.
    expect(watch('missing/deeper/*')).toEqual(['']);
    expect(watch('crand0/*')).toEqual(['']);
  });
});
