/**
 * A Parquet row group's bar columns decoded straight into memory that is reused from one group to
 * the next, for the plain layouts that bar files have: flat columns, no nulls, values PLAIN or
 * dictionary-encoded, pages uncompressed or Snappy (pandas through pyarrow, polars, DuckDB and our
 * own writer all write them so by default). Anything else (another codec or encoding, a null, a
 * nested schema, a page that does not parse) makes `decode` return null and parquet.ts reads that
 * group through hyparquet's general reader, which reads everything and reports what is wrong.
 *
 * Why: hyparquet's general reader makes fresh memory at every step of every group (the group's
 * bytes, a copy of each column's bytes, an aligned copy of each page's doubles, an array per page).
 * On a 1,000,000-bar file that was ~250 MB of fresh pages, ~60,000 page faults, and about half the
 * reading thread's time. Here a group's bytes, pages and values go into a handful of buffers grown
 * to the largest group and then reused. The parts of the format are still hyparquet's: its page
 * header parser (Thrift), its RLE/bit-packed decoder and its Snappy decoder.
 *
 * The values come out exactly as parquet.ts's reading through hyparquet gives them (INT64 through
 * parquet-int64.ts as there, other integers as Number of their value, strings decoded as UTF-8);
 * tests/backtest-parquet-pages.test.ts compares the two on files of every layout handled here.
 */
import type { FileHandle } from 'node:fs/promises';
import type { ColumnMetaData, FileMetaData, PageHeader, SchemaElement } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { snappyUncompress } from 'hyparquet/src/snappy.js';
import { int64Times, type TimeUnit } from './parquet-int64.ts';

/** What a column holds: the bar's time (INT64 in `unit`), its symbol (text), or a number. */
export type ColumnRole = { kind: 'time'; unit: TimeUnit } | { kind: 'symbol' } | { kind: 'number' };

/** A column this reader decodes: its index among the row group's column chunks, role and physical type. */
interface Column {
  chunk: number;
  role: ColumnRole;
  type: 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE' | 'BYTE_ARRAY';
  /** 1 for an OPTIONAL column (each value's definition level must then be 1: no nulls), 0 for REQUIRED. */
  maxDef: number;
  /** The decoded values of the group (grown, then reused): numbers for times and numbers, strings for symbols. */
  values: Float64Array | string[];
}

const utf8 = new TextDecoder();

/** Thrown inside `decode` for a page outside the layouts handled here: the group is read the general way. */
class NotPlain extends Error {}

/** Whether a schema element's annotations leave its integers plain signed numbers (as hyparquet converts them: not at all). */
function plainInteger(e: SchemaElement): boolean {
  const ct = e.converted_type;
  const lt = e.logical_type;
  if (ct !== undefined && ct !== 'INT_8' && ct !== 'INT_16' && ct !== 'INT_32' && ct !== 'INT_64') return false;
  return lt === undefined || (lt.type === 'INTEGER' && lt.isSigned);
}

/** The physical type of a column this reader can decode in its role, or null. */
function plainType(e: SchemaElement, role: ColumnRole): Column['type'] | null {
  if (e.repetition_type === 'REPEATED' || e.num_children) return null;
  switch (role.kind) {
    case 'time':
      // Annotations are parquet.ts's to read (the unit); the values are INT64 either way.
      return e.type === 'INT64' ? 'INT64' : null;
    case 'symbol': {
      if (e.type !== 'BYTE_ARRAY') return null;
      const ct = e.converted_type;
      const lt = e.logical_type?.type;
      return (ct === undefined || ct === 'UTF8' || ct === 'ENUM') && (lt === undefined || lt === 'STRING' || lt === 'ENUM') ? 'BYTE_ARRAY' : null;
    }
    case 'number':
      if (e.type === 'DOUBLE' || e.type === 'FLOAT') return e.converted_type === undefined && e.logical_type === undefined ? e.type : null;
      if (e.type === 'INT32' || e.type === 'INT64') return plainInteger(e) ? e.type : null;
      return null;
  }
}

/** A byte buffer that only grows. */
function grown(buf: Uint8Array<ArrayBuffer>, size: number): Uint8Array<ArrayBuffer> {
  return buf.length >= size ? buf : new Uint8Array(Math.max(size, buf.length * 2));
}

export class RowGroupDecoder {
  private fileBytes: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  private pageBytes: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  /** Page values copied to an 8-byte boundary, to be read as typed arrays. */
  private aligned = new ArrayBuffer(0);
  private indices = new Int32Array(0);
  private levels = new Uint8Array(0);
  /** The bytes of the chunk last read, at fileBytes' start. */
  private chunkSize = 0;

  private constructor(
    private readonly metadata: FileMetaData,
    private readonly columns: Column[],
  ) {}

  /**
   * A decoder of the named columns (each with its role), or null when the schema is not flat or a
   * column's type is not one this reader handles (the file is then read the general way).
   */
  static for(metadata: FileMetaData, wanted: { name: string; role: ColumnRole }[]): RowGroupDecoder | null {
    const schema = metadata.schema;
    // Flat: every element after the root is a top-level leaf.
    if (schema[0]?.num_children !== schema.length - 1) return null;
    const first = metadata.row_groups[0];
    if (!first) return null;
    const columns: Column[] = [];
    for (const { name, role } of wanted) {
      const element = schema.find((e, i) => i > 0 && e.name === name);
      const chunk = first.columns.findIndex((c) => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === name);
      if (!element || chunk < 0) return null;
      const type = plainType(element, role);
      if (type === null) return null;
      columns.push({ chunk, role, type, maxDef: element.repetition_type === 'REQUIRED' ? 0 : 1, values: role.kind === 'symbol' ? [] : new Float64Array(0) });
    }
    return new RowGroupDecoder(metadata, columns);
  }

  /**
   * The row group's values of each wanted column, in the order given (reused by the next call:
   * read them first), or null when the group is not of the plain layouts (read it the general way).
   */
  async decode(fh: FileHandle, group: number): Promise<ArrayLike<unknown>[] | null> {
    const rg = this.metadata.row_groups[group];
    if (!rg) return null;
    const rows = Number(rg.num_rows);
    const out: ArrayLike<unknown>[] = [];
    try {
      for (const col of this.columns) {
        const meta = rg.columns[col.chunk]?.meta_data;
        if (!meta || meta.path_in_schema.length !== 1 || rg.columns[col.chunk]!.file_path) return null;
        if (meta.codec !== 'UNCOMPRESSED' && meta.codec !== 'SNAPPY') return null;
        if (!(await this.readChunk(fh, meta))) return null;
        this.ensureValues(col, rows);
        if (this.decodeChunk(col, meta, rows) !== rows) return null;
        out.push(col.values);
      }
    } catch {
      // NotPlain, or a page that does not parse: the general reader reads the group and says what is wrong.
      return null;
    }
    return out;
  }

  /** The column chunk's bytes into fileBytes[0, size); false when the file ends before them. */
  private async readChunk(fh: FileHandle, meta: ColumnMetaData): Promise<boolean> {
    const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
    const size = Number(meta.total_compressed_size);
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(size) && start >= 0 && size > 0)) return false;
    this.fileBytes = grown(this.fileBytes, size);
    for (let got = 0; got < size; ) {
      const { bytesRead } = await fh.read(this.fileBytes, got, size - got, start + got);
      if (bytesRead === 0) return false;
      got += bytesRead;
    }
    this.chunkSize = size;
    return true;
  }

  private ensureValues(col: Column, rows: number): void {
    if (col.values.length >= rows) return;
    if (col.role.kind === 'symbol') (col.values as string[]).length = rows;
    else col.values = new Float64Array(Math.max(rows, col.values.length * 2));
  }

  /** Decodes the chunk's pages into col.values; returns the rows decoded. */
  private decodeChunk(col: Column, meta: ColumnMetaData, rows: number): number {
    const view = new DataView(this.fileBytes.buffer, this.fileBytes.byteOffset, this.chunkSize);
    const reader = { view, offset: 0 };
    let dictionary: Float64Array | string[] | null = null;
    let at = 0;
    while (at < rows && reader.offset < this.chunkSize) {
      const header: PageHeader = parquetHeader(reader);
      const bodyStart = reader.offset;
      const compressed = header.compressed_page_size;
      if (bodyStart + compressed > this.chunkSize) throw new NotPlain();
      reader.offset += compressed;
      if (header.type === 'DICTIONARY_PAGE') {
        const dph = header.dictionary_page_header;
        if (!dph || (dph.encoding !== 'PLAIN' && dph.encoding !== 'PLAIN_DICTIONARY')) throw new NotPlain();
        const bytes = this.pageBody(meta, bodyStart, compressed, header.uncompressed_page_size, true);
        dictionary = this.dictionaryOf(col, bytes, dph.num_values);
      } else if (header.type === 'DATA_PAGE') {
        const dph = header.data_page_header;
        if (!dph) throw new NotPlain();
        const n = dph.num_values;
        if (at + n > rows) throw new NotPlain();
        const bytes = this.pageBody(meta, bodyStart, compressed, header.uncompressed_page_size, true);
        let p = 0;
        if (col.maxDef) {
          if (dph.definition_level_encoding !== 'RLE') throw new NotPlain();
          p = this.checkDefined(bytes, n, undefined);
        }
        this.values(col, dph.encoding, bytes, p, n, at, dictionary);
        at += n;
      } else if (header.type === 'DATA_PAGE_V2') {
        const v2 = header.data_page_header_v2;
        if (!v2 || v2.num_nulls !== 0 || v2.repetition_levels_byte_length !== 0) throw new NotPlain();
        const n = v2.num_values;
        if (at + n > rows || v2.num_rows !== n) throw new NotPlain();
        const levelBytes = v2.definition_levels_byte_length;
        if (col.maxDef && levelBytes > 0) this.checkDefined(this.fileBytes.subarray(bodyStart, bodyStart + levelBytes), n, levelBytes);
        const bytes = this.pageBody(meta, bodyStart + levelBytes, compressed - levelBytes, header.uncompressed_page_size - levelBytes, v2.is_compressed !== false);
        this.values(col, v2.encoding, bytes, 0, n, at, dictionary);
        at += n;
      } else {
        throw new NotPlain();
      }
    }
    return at;
  }

  /** A page's bytes after decompression (a view of fileBytes when stored plain, else of pageBytes). */
  private pageBody(meta: ColumnMetaData, start: number, compressed: number, uncompressed: number, maybeCompressed: boolean): Uint8Array {
    const input = this.fileBytes.subarray(start, start + compressed);
    if (meta.codec === 'UNCOMPRESSED' || !maybeCompressed) {
      if (compressed !== uncompressed) throw new NotPlain();
      return input;
    }
    this.pageBytes = grown(this.pageBytes, uncompressed);
    const output = this.pageBytes.subarray(0, uncompressed);
    snappyUncompress(input, output);
    return output;
  }

  /**
   * Checks that the n definition levels (RLE, width 1) at the start of `bytes` are all 1 (no nulls);
   * returns where the values start. `length`: the levels' bytes (v2), else read before them (v1).
   */
  private checkDefined(bytes: Uint8Array, n: number, length: number | undefined): number {
    if (this.levels.length < n) this.levels = new Uint8Array(Math.max(n, this.levels.length * 2));
    const levels = this.levels.subarray(0, n);
    const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
    readRleBitPackedHybrid(reader, 1, levels, length);
    for (let i = 0; i < n; i++) if (levels[i] !== 1) throw new NotPlain();
    return reader.offset;
  }

  /** `bytes` from `p` copied to an 8-byte boundary (reused memory). */
  private alignedCopy(bytes: Uint8Array, p: number, size: number): ArrayBuffer {
    if (p + size > bytes.length) throw new NotPlain();
    if (this.aligned.byteLength < size) this.aligned = new ArrayBuffer(Math.max(size, this.aligned.byteLength * 2));
    new Uint8Array(this.aligned, 0, size).set(bytes.subarray(p, p + size));
    return this.aligned;
  }

  /** n PLAIN numbers of col's type at bytes[p] into `into` from `offset` (times through int64Times). */
  private plainNumbers(col: Column, bytes: Uint8Array, p: number, n: number, into: Float64Array, offset: number): void {
    switch (col.type) {
      case 'DOUBLE':
        into.set(new Float64Array(this.alignedCopy(bytes, p, n * 8), 0, n), offset);
        return;
      case 'FLOAT':
        into.set(new Float32Array(this.alignedCopy(bytes, p, n * 4), 0, n), offset);
        return;
      case 'INT32':
        into.set(new Int32Array(this.alignedCopy(bytes, p, n * 4), 0, n), offset);
        return;
      case 'INT64':
        // Times in their unit; plain integers as they are (MILLIS: Number of the value).
        int64Times(new BigInt64Array(this.alignedCopy(bytes, p, n * 8), 0, n), col.role.kind === 'time' ? col.role.unit : 'MILLIS', into, offset, n);
        return;
      default:
        throw new NotPlain();
    }
  }

  /** n PLAIN strings (4-byte length, then UTF-8 bytes) at bytes[p] into `into` from `offset`, equal texts as one string. */
  private plainStrings(bytes: Uint8Array, p: number, n: number, into: string[], offset: number): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // The last few distinct texts: a symbol column repeats a handful of them.
    const seen: { start: number; len: number; text: string }[] = [];
    for (let i = 0; i < n; i++) {
      if (p + 4 > bytes.length) throw new NotPlain();
      const len = view.getUint32(p, true);
      p += 4;
      if (p + len > bytes.length) throw new NotPlain();
      let text: string | undefined;
      for (const s of seen) {
        if (s.len !== len) continue;
        let k = 0;
        while (k < len && bytes[s.start + k] === bytes[p + k]) k++;
        if (k === len) {
          text = s.text;
          break;
        }
      }
      if (text === undefined) {
        text = utf8.decode(bytes.subarray(p, p + len));
        if (seen.length === 8) seen.shift();
        seen.push({ start: p, len, text });
      }
      into[offset + i] = text;
      p += len;
    }
  }

  private dictionaryOf(col: Column, bytes: Uint8Array, n: number): Float64Array | string[] {
    if (col.type === 'BYTE_ARRAY') {
      const dict = new Array<string>(n);
      this.plainStrings(bytes, 0, n, dict, 0);
      return dict;
    }
    const dict = new Float64Array(n);
    this.plainNumbers(col, bytes, 0, n, dict, 0);
    return dict;
  }

  /** A data page's n values (from bytes[p]) into col.values from row `at`. */
  private values(col: Column, encoding: string, bytes: Uint8Array, p: number, n: number, at: number, dictionary: Float64Array | string[] | null): void {
    if (encoding === 'PLAIN') {
      if (col.type === 'BYTE_ARRAY') this.plainStrings(bytes, p, n, col.values as string[], at);
      else this.plainNumbers(col, bytes, p, n, col.values as Float64Array, at);
      return;
    }
    if ((encoding !== 'RLE_DICTIONARY' && encoding !== 'PLAIN_DICTIONARY') || dictionary === null) throw new NotPlain();
    if (p >= bytes.length) throw new NotPlain();
    const width = bytes[p]!;
    if (this.indices.length < n) this.indices = new Int32Array(Math.max(n, this.indices.length * 2));
    const indices = this.indices.subarray(0, n);
    if (width === 0) indices.fill(0);
    else readRleBitPackedHybrid({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: p + 1 }, width, indices, bytes.length - p - 1);
    const size = dictionary.length;
    for (let i = 0; i < n; i++) {
      const k = indices[i]!;
      if (!(k >= 0 && k < size)) throw new NotPlain();
    }
    if (dictionary instanceof Float64Array) {
      const into = col.values as Float64Array;
      for (let i = 0; i < n; i++) into[at + i] = dictionary[indices[i]!]!;
    } else {
      const into = col.values as string[];
      for (let i = 0; i < n; i++) into[at + i] = dictionary[indices[i]!]!;
    }
  }
}
