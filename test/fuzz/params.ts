// Generators of query values, headers (Content-Range, Range, Content-Type) and random bodies.
import type { Rng } from '../helpers/random.js';
import { MT } from './fixtures.js';
import type { Pick } from './segments.js';

/** A random value for a query parameter, already percent-encoded as it goes on the wire. */
export function queryValue(rng: Rng, param: string): Pick {
  const kind = rng.weighted<string>([
    [4, 'plain'],
    [3, 'nul'],
    [2, 'huge-number'],
    [2, 'negative'],
    [2, 'non-numeric'],
    [2, 'empty'],
    [2, 'unicode'],
    [1, 'bad-utf8'],
    [1, 'surrogate'],
    [1, 'long'],
    [1, 'ctl'],
  ]);
  const text = ((): string => {
    switch (kind) {
      case 'plain':
        return rng.pick([
          '0',
          '1',
          '2',
          '5',
          '100',
          'v1',
          'latest',
          't%2Falpha',
          'application%2Fvnd.example',
        ]);
      case 'nul':
        return rng.pick(['%00', 'a%00b', '1%00']);
      case 'huge-number':
        return rng.pick(['99999999999999999999', '2147483648', '9007199254740993', '1e308', '4294967296']);
      case 'negative':
        return rng.pick(['-1', '-0', '-99999999999']);
      case 'non-numeric':
        return rng.pick(['abc', '1.5', '0x10', '%201', 'NaN', 'Infinity', '1,2']);
      case 'empty':
        return '';
      case 'unicode':
        return rng.pick(['%C3%BC', '%E2%80%AE', '%F0%9F%90%B3', '%EF%BF%BF']);
      case 'bad-utf8':
        return rng.pick(['%ff', '%c3', '%e0%80%80']);
      case 'surrogate':
        return '%ED%A0%80';
      case 'long':
        return 'z'.repeat(rng.pick([300, 5000]));
      default:
        return rng.pick(['%0a', '%0d%0a', '%09', '%7f', '%1b']);
    }
  })();
  return { text, label: `q.${param}:${kind}` };
}

export function listQuery(rng: Rng, labels: string[]): string {
  const params: string[] = [];
  for (const param of ['n', 'last']) {
    if (rng.chance(0.5)) {
      const v = queryValue(rng, param);
      labels.push(v.label);
      params.push(`${param}=${v.text}`);
      if (rng.chance(0.1)) params.push(`${param}=${queryValue(rng, param).text}`);
    }
  }
  return params.length ? `?${params.join('&')}` : '';
}

export function contentRange(rng: Rng, labels: string[], length: number): Record<string, string> {
  if (rng.chance(0.3)) return {};
  const kind = rng.weighted<string>([
    [4, 'plausible'],
    [2, 'bytes='],
    [1, 'bytes-space'],
    [2, 'reversed'],
    [2, 'huge'],
    [2, 'negative'],
    [2, 'garbage'],
    [1, 'empty'],
    [1, 'open'],
    [1, 'total'],
  ]);
  const end = Math.max(length - 1, 0);
  const value = ((): string => {
    switch (kind) {
      case 'plausible':
        return rng.pick([`0-${end}`, `${rng.int(0, 100)}-${rng.int(0, 100) + end}`]);
      case 'bytes=':
        return rng.pick(['bytes=', `bytes=0-${end}`]);
      case 'bytes-space':
        return `bytes 0-${end}`;
      case 'reversed':
        return `${end + 10}-0`;
      case 'huge':
        return rng.pick([
          '0-99999999999999999999',
          '99999999999999999999-99999999999999999999',
          `0-${2 ** 53}`,
        ]);
      case 'negative':
        return rng.pick(['-1-5', '0--1', '-5']);
      case 'garbage':
        return rng.pick(['garbage', '0-a', '%00', 'a-b', '1.5-2', '0-1-2', ' - ']);
      case 'empty':
        return '';
      case 'open':
        return '0-';
      default:
        return rng.pick([`0-${end}/${length}`, 'bytes */100', `bytes 0-${end}/*`]);
    }
  })();
  labels.push(`h.content-range:${kind}`);
  return { 'Content-Range': value };
}

export function rangeHeader(rng: Rng, labels: string[]): Record<string, string> {
  if (rng.chance(0.5)) return {};
  const value = rng.pick([
    'bytes=0-0',
    'bytes=0-',
    'bytes=-1',
    'bytes=-0',
    'bytes=5-1',
    'bytes=1-5',
    'bytes=100000000-',
    'bytes=0-1,3-4',
    'bytes=--1',
    'bytes=',
    'bytes=-',
    'items=0-1',
    'bytes=99999999999999999999-',
    'bytes=0-99999999999999999999',
    ' bytes=0-1 ',
    'bytes=1.5-2',
    'bytes=0x10-',
    'bytes = 0-1',
    'garbage',
  ]);
  labels.push(`h.range:${value.trim() || 'blank'}`);
  return { Range: value };
}

export function contentType(rng: Rng, labels: string[], natural: string | undefined): Record<string, string> {
  const kind = rng.weighted<string>([
    [12, 'natural'],
    [2, 'none'],
    [2, 'other-manifest'],
    [1, 'json'],
    [1, 'text'],
    [1, 'charset'],
    [1, 'list'],
    [1, 'multipart'],
    [1, 'case'],
    [1, 'long'],
    [1, 'latin1'],
    [1, 'empty'],
  ]);
  labels.push(`ct:${kind}`);
  switch (kind) {
    case 'natural':
      return natural ? { 'Content-Type': natural } : {};
    case 'none':
      return {};
    case 'other-manifest':
      return { 'Content-Type': rng.pick(Object.values(MT)) };
    case 'json':
      return { 'Content-Type': 'application/json' };
    case 'text':
      return { 'Content-Type': 'text/plain' };
    case 'charset':
      return { 'Content-Type': `${natural ?? MT.manifest}; charset=utf-8` };
    case 'list':
      return { 'Content-Type': `${MT.manifest}, ${MT.index}` };
    case 'multipart':
      return { 'Content-Type': 'multipart/form-data; boundary=xyz' };
    case 'case':
      return { 'Content-Type': (natural ?? MT.manifest).toUpperCase() };
    case 'long':
      return { 'Content-Type': `application/${'x'.repeat(5000)}` };
    case 'latin1':
      return { 'Content-Type': 'application/vnd.\u00e9\u00ff+json' };
    default:
      return { 'Content-Type': '' };
  }
}

export function randomBody(rng: Rng, labels: string[]): Buffer {
  const size = rng.weighted<number>([
    [25, 0],
    [35, rng.int(1, 100)],
    [28, rng.int(100, 4096)],
    [10, rng.int(4096, 64 * 1024)],
    [2, rng.int(64 * 1024, 512 * 1024)],
  ]);
  labels.push(size === 0 ? 'body:empty' : size > 64 * 1024 ? 'body:large' : 'body:random');
  return rng.bytes(size);
}
