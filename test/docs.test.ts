import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * A clone of this repository alone must make sense: every link in README.md and docs/*.md resolves
 * to a file in the repository (and, for a Markdown file with a `#fragment`, to one of its
 * headings), and nothing points outside it. Links to public web pages (http, https) are fine.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

const DOCUMENTS = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

interface Link {
  readonly target: string;
  readonly line: number;
}

/** Blanks out `text` between `start` and `end`, keeping line breaks so line numbers stay right. */
function blank(text: string, start: number, end: number): string {
  return text.slice(0, start) + text.slice(start, end).replace(/[^\n]/g, ' ') + text.slice(end);
}

/** The Markdown with fenced code blocks and inline code spans blanked: links in code are not links. */
function withoutCode(markdown: string): string {
  let text = markdown;
  for (const fence of markdown.matchAll(/^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm)) {
    text = blank(text, fence.index, fence.index + fence[0].length);
  }
  for (const span of text.matchAll(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g)) {
    text = blank(text, span.index, span.index + span[0].length);
  }
  return text;
}

const LINK_PATTERNS = [
  // Inline links and images: [text](target "title"), ![alt](<target>).
  /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)/g,
  // Reference definitions: [label]: target
  /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/gm,
  // Autolinks and raw HTML.
  /<([a-z][a-z0-9+.-]*:[^>\s]*)>/gi,
  /\b(?:href|src)\s*=\s*["']([^"']*)["']/gi,
];

/** Every link target in a Markdown document, with its line number. */
function linksIn(markdown: string): Link[] {
  const text = withoutCode(markdown);
  const links: Link[] = [];
  for (const pattern of LINK_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      const raw = match[1] ?? '';
      const target = raw.startsWith('<') && raw.endsWith('>') ? raw.slice(1, -1) : raw;
      links.push({ target, line: text.slice(0, match.index).split('\n').length });
    }
  }
  return links;
}

/** The anchors GitHub gives a Markdown file's headings (lower case, punctuation dropped, `-` for spaces). */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const heading of withoutFences(markdown).matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/gm)) {
    const text = (heading[1] ?? '')
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[`*]/g, '')
      .toLowerCase();
    const base = text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

function withoutFences(markdown: string): string {
  return markdown.replace(/^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '');
}

/** Why `target`, linked from `document` (a path relative to ROOT), is not acceptable; undefined when it is. */
function problemWith(document: string, target: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(target)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    return scheme === 'http' || scheme === 'https' ? undefined : `a ${scheme}: link`;
  }
  if (target.startsWith('//')) return 'a protocol-relative link (write https:)';
  if (target.startsWith('/')) return 'an absolute path (write it relative to the document)';
  const hash = target.indexOf('#');
  const file = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = file === '' ? path.join(ROOT, document) : path.resolve(ROOT, path.dirname(document), file);
  const inRepo = path.relative(ROOT, resolved);
  if (inRepo.startsWith('..') || path.isAbsolute(inRepo)) return 'a path outside the repository';
  if (!existsSync(resolved)) return `a missing file (${inRepo})`;
  if (isIgnored(inRepo)) return `a file git ignores (${inRepo}), absent from a clone`;
  if (fragment !== undefined && resolved.endsWith('.md')) {
    if (!headingAnchors(readFileSync(resolved, 'utf8')).has(fragment)) {
      return `a heading ${inRepo} does not have (#${fragment})`;
    }
  }
  return undefined;
}

const ignored = new Map<string, boolean>();

function isIgnored(relativePath: string): boolean {
  let answer = ignored.get(relativePath);
  if (answer === undefined) {
    const result = spawnSync('git', ['check-ignore', '-q', relativePath], { cwd: ROOT });
    // 0: ignored; 1: not ignored; anything else (no git, not a work tree): cannot tell, so not ignored.
    answer = result.status === 0;
    ignored.set(relativePath, answer);
  }
  return answer;
}

describe('documentation links', () => {
  it.each(DOCUMENTS)('every link in %s resolves inside the repository', (document) => {
    const markdown = readFileSync(path.join(ROOT, document), 'utf8');
    const problems = linksIn(markdown).flatMap(({ target, line }) => {
      const problem = problemWith(document, target);
      return problem === undefined ? [] : [`${document}:${line}: ${target} is ${problem}`];
    });
    expect(problems).toEqual([]);
  });

  it('finds the documents: the README and at least the specification, the API and the decisions', () => {
    expect(DOCUMENTS).toEqual(
      expect.arrayContaining(['README.md', 'docs/specification.md', 'docs/api.md', 'docs/decisions.md']),
    );
  });

  it('links the README to every document in docs/', () => {
    const targets = new Set(linksIn(readFileSync(path.join(ROOT, 'README.md'), 'utf8')).map((l) => l.target));
    for (const document of DOCUMENTS.filter((d) => d !== 'README.md')) expect(targets).toContain(document);
  });
});

describe('the link checker', () => {
  it('finds inline links, images, reference definitions, autolinks and HTML links, with line numbers', () => {
    const markdown = [
      'See [the spec](docs/specification.md#scale "title") and ![chart](<docs/benchmarks.svg>).',
      '[ref]: ../outside.md',
      'Mail <mailto:x@example.com> or <a href="file:///etc/passwd">this</a>.',
    ].join('\n');
    expect(linksIn(markdown)).toEqual(
      expect.arrayContaining([
        { target: 'docs/specification.md#scale', line: 1 },
        { target: 'docs/benchmarks.svg', line: 1 },
        { target: '../outside.md', line: 2 },
        { target: 'mailto:x@example.com', line: 3 },
        { target: 'file:///etc/passwd', line: 3 },
      ]),
    );
  });

  it('ignores links inside code spans and fenced code blocks', () => {
    const markdown = ['`[a](../x.md)` and ``[b](../y.md)``', '```', '[c](../z.md)', '```', '[d](ok.md)'].join(
      '\n',
    );
    expect(linksIn(markdown)).toEqual([{ target: 'ok.md', line: 5 }]);
  });

  it.each([
    ['../shared/SPEC.md', 'a path outside the repository'],
    ['docs/../../shared/seeds/task.txt', 'a path outside the repository'],
    ['docs/no-such-file.md', 'a missing file (docs/no-such-file.md)'],
    ['docs/api.md#no-such-heading', 'a heading docs/api.md does not have (#no-such-heading)'],
    ['#no-such-heading', 'a heading README.md does not have (#no-such-heading)'],
    ['file:///etc/passwd', 'a file: link'],
    ['//example.com/x', 'a protocol-relative link (write https:)'],
    ['/README.md', 'an absolute path (write it relative to the document)'],
    [
      'node_modules/vitest/package.json',
      'a file git ignores (node_modules/vitest/package.json), absent from a clone',
    ],
  ])('refuses %s from the README: %s', (target, problem) => {
    expect(problemWith('README.md', target)).toBe(problem);
  });

  it.each([
    ['README.md', 'docs/api.md#accounts'],
    ['README.md', 'openapi.yaml'],
    ['README.md', 'https://www.rfc-editor.org/rfc/rfc9457'],
    ['docs/api.md', '../openapi.yaml'],
    ['docs/api.md', '#worker-inputs'],
    ['docs/specification.md', 'decisions.md#collection-is-a-base-class-getter'],
  ])('accepts %s → %s', (document, target) => {
    expect(problemWith(document, target)).toBeUndefined();
  });

  it('derives heading anchors as GitHub does: code marks and punctuation dropped, duplicates numbered', () => {
    const anchors = headingAnchors(
      [
        '# 1. Models and `COLLECTION`',
        '## The `after` cursor',
        '## Notes',
        '## Notes',
        '```',
        '# not a heading',
        '```',
      ].join('\n'),
    );
    expect([...anchors]).toEqual(['1-models-and-collection', 'the-after-cursor', 'notes', 'notes-1']);
  });
});
