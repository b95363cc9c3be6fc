// A reader for the datadriven test format of github.com/cockroachdb/datadriven v1.0.2, the
// format etcd raft's testdata/*.txt scripts are written in:
//
//   # comment
//   cmd key=value key=(v1, v2) flag
//   input line(s)
//   ----
//   expected output (ends at the first blank line)
//
// Output that contains blank lines is framed by a doubled separator (`----\n----` before and
// after it). The runner appends a newline to output that lacks one, as datadriven does.
import { readFileSync } from 'node:fs';
import { AssertionError } from 'node:assert';

export interface CmdArg {
  key: string;
  vals: string[];
}

export interface TestData {
  pos: string;
  cmd: string;
  cmdArgs: CmdArg[];
  input: string;
  expected: string;
}

const SEPARATOR = '----';

// One directive argument: key, key=value or key=(v1, v2, ...), as datadriven's splitDirectives.
const ARGUMENT = /^ *([-a-zA-Z0-9/_,.]+)(|=[-a-zA-Z0-9_@=+/,.]*|=\([^)]*\))( |$)/;

export function parseCommandLine(line: string, pos: string): { cmd: string; cmdArgs: CmdArg[] } {
  let rest = line.trim();
  const first = /^(\S+)/.exec(rest);
  if (!first?.[1]) throw new Error(`${pos}: a directive needs a command`);
  const cmd = first[1];
  rest = rest.slice(cmd.length);
  const cmdArgs: CmdArg[] = [];
  while (rest.trim() !== '') {
    const match = ARGUMENT.exec(rest);
    if (!match) throw new Error(`${pos}: cannot parse directive argument at ${JSON.stringify(rest.trim())}`);
    rest = rest.slice(match[0].length);
    const key = match[1] ?? '';
    const rawValue = match[2] ?? '';
    if (rawValue === '') {
      cmdArgs.push({ key, vals: [] });
      continue;
    }
    let value = rawValue.slice(1);
    if (value.startsWith('(') && value.endsWith(')')) {
      value = value.slice(1, -1);
      cmdArgs.push({ key, vals: value.split(',').map((part) => part.trim()) });
    } else {
      cmdArgs.push({ key, vals: [value] });
    }
  }
  return { cmd, cmdArgs };
}

export function parseDataDriven(text: string, sourceName: string): TestData[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const directives: TestData[] = [];
  let at = 0;
  while (at < lines.length) {
    const line = lines[at] ?? '';
    if (line.trim() === '' || line.startsWith('#')) {
      at++;
      continue;
    }
    const pos = `${sourceName}:${at + 1}`;
    let commandLine = line;
    while (commandLine.endsWith('\\') && at + 1 < lines.length) {
      at++;
      commandLine = commandLine.slice(0, -1) + ' ' + (lines[at] ?? '');
    }
    at++;
    const { cmd, cmdArgs } = parseCommandLine(commandLine, pos);
    const input: string[] = [];
    while (at < lines.length && lines[at] !== SEPARATOR) input.push(lines[at++] ?? '');
    if (at >= lines.length) throw new Error(`${pos}: directive ${cmd} has no ${SEPARATOR} separator`);
    at++;
    const expected: string[] = [];
    if (lines[at] === SEPARATOR) {
      at++;
      for (;;) {
        if (at >= lines.length) throw new Error(`${pos}: doubled separator block is not closed`);
        if (lines[at] === SEPARATOR && lines[at + 1] === SEPARATOR) {
          at += 2;
          break;
        }
        expected.push(lines[at++] ?? '');
      }
    } else {
      while (at < lines.length && (lines[at] ?? '').trim() !== '') expected.push(lines[at++] ?? '');
    }
    directives.push({
      pos,
      cmd,
      cmdArgs,
      input: input.join('\n'),
      expected: expected.length === 0 ? '' : expected.join('\n') + '\n',
    });
  }
  return directives;
}

// Runs every directive of a file in order through `handle` and throws at the first one whose
// output differs from the file's, naming its position.
export function runDataDrivenFile(path: string, handle: (data: TestData) => string): number {
  const directives = parseDataDriven(readFileSync(path, 'utf8'), path);
  for (const data of directives) {
    let actual = handle(data);
    if (actual !== '' && !actual.endsWith('\n')) actual += '\n';
    if (actual !== data.expected) {
      throw new AssertionError({
        message: `${data.pos}: ${data.cmd}\n${data.input}\nexpected:\n${data.expected}found:\n${actual}`,
        expected: data.expected,
        actual,
        operator: 'strictEqual',
      });
    }
  }
  return directives.length;
}

// Helpers for drivers reading a directive's arguments.
export function scanArg(data: TestData, key: string): CmdArg | undefined {
  return data.cmdArgs.find((arg) => arg.key === key);
}
