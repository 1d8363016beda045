/**
 * Parquet files with version-1 data pages, as pyarrow (pandas' `to_parquet`) writes them by
 * default, made from a file hyparquet-writer wrote (it writes version-2 pages only): each data page
 * gets its definition levels behind a 4-byte length and is compressed whole, with the codec of its
 * column; dictionary pages are kept as they are; the metadata's offsets and sizes follow, and the
 * page indexes are dropped.
 */
import { parquetMetadata, type FileMetaData } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { snappyUncompress } from 'hyparquet/src/snappy.js';
import { ByteWriter } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';

export function withDataPagesV1(file: Uint8Array): Uint8Array {
  const buffer = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  const metadata: FileMetaData = parquetMetadata(buffer);
  const out = new ByteWriter();
  out.appendBytes(new TextEncoder().encode('PAR1'));
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data!;
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      const end = start + Number(meta.total_compressed_size);
      const reader = { view: new DataView(buffer, 0, end), offset: start };
      const chunkStart = out.offset;
      let uncompressedTotal = 0;
      let dictionaryAt: bigint | undefined;
      let dataAt: bigint | undefined;
      while (reader.offset < end) {
        const header = parquetHeader(reader);
        const body = new Uint8Array(buffer, reader.offset, header.compressed_page_size);
        reader.offset += header.compressed_page_size;
        const pageAt = BigInt(out.offset);
        if (header.type === 'DICTIONARY_PAGE') {
          dictionaryAt = pageAt;
          writePageHeader(out, header);
          out.appendBytes(body);
          uncompressedTotal += header.uncompressed_page_size;
          continue;
        }
        const v2 = header.data_page_header_v2!;
        dataAt ??= pageAt;
        const levels = body.subarray(0, v2.definition_levels_byte_length);
        let values = body.subarray(v2.definition_levels_byte_length);
        if (meta.codec === 'SNAPPY' && v2.is_compressed !== false) {
          const plain = new Uint8Array(header.uncompressed_page_size - v2.definition_levels_byte_length);
          snappyUncompress(values, plain);
          values = plain;
        }
        const page = new ByteWriter();
        if (levels.length) {
          page.appendUint32(levels.length);
          page.appendBytes(levels);
        }
        page.appendBytes(values);
        const plainPage = page.getBytes();
        const stored = meta.codec === 'SNAPPY' ? snappyCompress(plainPage) : plainPage;
        writePageHeader(out, {
          type: 'DATA_PAGE',
          uncompressed_page_size: plainPage.length,
          compressed_page_size: stored.length,
          data_page_header: { num_values: v2.num_values, encoding: v2.encoding, definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' },
        });
        out.appendBytes(stored);
        uncompressedTotal += plainPage.length;
      }
      meta.dictionary_page_offset = dictionaryAt;
      meta.data_page_offset = dataAt!;
      meta.total_compressed_size = BigInt(out.offset - chunkStart);
      meta.total_uncompressed_size = BigInt(uncompressedTotal);
      meta.encoding_stats = meta.encoding_stats?.map((s) => (s.page_type === 'DATA_PAGE_V2' ? { ...s, page_type: 'DATA_PAGE' } : s));
      chunk.file_offset = BigInt(chunkStart);
      chunk.offset_index_offset = undefined;
      chunk.offset_index_length = undefined;
      chunk.column_index_offset = undefined;
      chunk.column_index_length = undefined;
    }
  }
  const metadataAt = out.offset;
  writeMetadata(out, metadata);
  out.appendUint32(out.offset - metadataAt);
  out.appendBytes(new TextEncoder().encode('PAR1'));
  return out.getBytes();
}
