// Maps positions in a compiled bundle back to the DAG file, for errors thrown in the sandbox (QuickJS
// stacks) and in the worker (V8 stacks). Own decoder rather than node:module's SourceMap because
// QuickJS frames may lack a column, and then the first mapping on the line is the useful one.
import type { SourcePosition } from "./types.ts";

interface Segment {
  column: number;
  line: number;
  sourceColumn: number;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function decodeVlq(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = BASE64.indexOf(char);
    if (digit < 0) break;
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

export class SourceMapLookup {
  // Per generated line (0-based), segments sorted by generated column; source positions 0-based.
  private readonly lines: Segment[][] = [];

  constructor(map: { mappings?: string }) {
    let sourceLine = 0;
    let sourceColumn = 0;
    for (const lineText of (map.mappings ?? "").split(";")) {
      const segments: Segment[] = [];
      let column = 0;
      for (const part of lineText.split(",")) {
        if (part === "") continue;
        const [dColumn, , dLine, dSourceColumn] = decodeVlq(part);
        column += dColumn;
        if (dLine === undefined) continue;
        sourceLine += dLine;
        sourceColumn += dSourceColumn ?? 0;
        segments.push({ column, line: sourceLine, sourceColumn });
      }
      this.lines.push(segments);
    }
  }

  /** Original position (1-based) of a generated one (1-based line, 1-based column if known). */
  original(line: number, column?: number): SourcePosition | undefined {
    const segments = this.lines[line - 1];
    if (!segments || segments.length === 0) return undefined;
    let best = segments[0];
    if (column !== undefined) {
      for (const segment of segments) {
        if (segment.column <= column - 1) best = segment;
        else break;
      }
    }
    return { line: best.line + 1, column: best.sourceColumn + 1 };
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The first stack frame in `file` (e.g. "dag.js"), as a generated 1-based line and column. */
export function firstFrameIn(stack: string, file: string): { line: number; column?: number } | undefined {
  const match = new RegExp(`${escapeRegExp(file)}:(\\d+)(?::(\\d+))?`).exec(stack);
  if (!match) return undefined;
  return { line: Number(match[1]), column: match[2] === undefined ? undefined : Number(match[2]) };
}

/** Rewrites every `file:line:column` in a stack to its original position in `sourceName`. */
export function mapStack(stack: string, file: string, map: SourceMapLookup, sourceName: string): string {
  return stack.replace(new RegExp(`${escapeRegExp(file)}:(\\d+)(?::(\\d+))?`, "g"), (whole, line: string, column?: string) => {
    const original = map.original(Number(line), column === undefined ? undefined : Number(column));
    return original ? `${sourceName}:${original.line}:${original.column}` : whole;
  });
}

const INLINE_MAP = /\n\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

export function withInlineSourceMap(code: string, map: string): string {
  return `${code.replace(/\n?$/, "\n")}//# sourceMappingURL=data:application/json;base64,${Buffer.from(map).toString("base64")}\n`;
}

export function readInlineSourceMap(code: string): SourceMapLookup | undefined {
  const match = INLINE_MAP.exec(code);
  if (!match) return undefined;
  try {
    return new SourceMapLookup(JSON.parse(Buffer.from(match[1], "base64").toString("utf8")) as { mappings?: string });
  } catch {
    return undefined;
  }
}
