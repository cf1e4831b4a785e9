//! Bound math: how an array of rows is cut into messages of at most `limit` bytes.
//!
//! Rows (axis-0 slices of `row_bytes` bytes each) are grouped `chunk_step` rows to a
//! message. A row larger than the limit is additionally cut at byte level into
//! pieces of at most `limit` bytes, so that no message ever exceeds the limit.

use crate::error::{Error, Result};

/// Number of whole rows that fit in one message (at least 1).
pub fn chunk_step(row_bytes: usize, limit: usize) -> usize {
    (limit / row_bytes.max(1)).max(1)
}

/// One message of a chunked transfer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Chunk {
    /// First row touched by this chunk.
    pub row_start: usize,
    /// One past the last row touched by this chunk.
    pub row_stop: usize,
    /// Byte offset of the chunk in the row-major (C-order) buffer.
    pub byte_offset: usize,
    /// Byte length of the chunk (1 ..= limit).
    pub byte_len: usize,
}

/// The chunk schedule of `nrows` rows of `row_bytes` bytes under `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowChunks {
    nrows: usize,
    row_bytes: usize,
    limit: usize,
    /// Rows per chunk when rows fit the limit, else 0.
    rows_per_chunk: usize,
    /// Pieces per row when rows exceed the limit, else 0.
    pieces_per_row: usize,
    count: usize,
}

impl RowChunks {
    /// Builds the schedule; fails if `limit` is 0 or the total size overflows.
    pub fn new(nrows: usize, row_bytes: usize, limit: usize) -> Result<RowChunks> {
        if limit == 0 {
            return Err(Error::out_of_range("the message limit must be at least 1 byte"));
        }
        nrows.checked_mul(row_bytes).ok_or_else(|| {
            Error::out_of_range(format!("{nrows} rows of {row_bytes} bytes overflow the address space"))
        })?;
        let (mut rows_per_chunk, mut pieces_per_row, count);
        if nrows == 0 || row_bytes == 0 {
            rows_per_chunk = 0;
            pieces_per_row = 0;
            count = 0;
        } else if row_bytes <= limit {
            rows_per_chunk = chunk_step(row_bytes, limit);
            pieces_per_row = 0;
            count = nrows.div_ceil(rows_per_chunk);
        } else {
            rows_per_chunk = 0;
            pieces_per_row = row_bytes.div_ceil(limit);
            count = nrows * pieces_per_row;
        }
        if count == 0 {
            rows_per_chunk = 0;
            pieces_per_row = 0;
        }
        Ok(RowChunks { nrows, row_bytes, limit, rows_per_chunk, pieces_per_row, count })
    }

    /// Number of messages.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Total number of bytes covered.
    pub fn total_bytes(&self) -> usize {
        self.nrows * self.row_bytes
    }

    /// Largest chunk length (0 when there are no chunks).
    pub fn max_chunk_bytes(&self) -> usize {
        if self.count == 0 {
            0
        } else if self.rows_per_chunk > 0 {
            self.rows_per_chunk.min(self.nrows) * self.row_bytes
        } else {
            self.limit
        }
    }

    /// Chunk `i` (panics if `i >= count()`).
    pub fn get(&self, i: usize) -> Chunk {
        assert!(i < self.count, "chunk index {i} out of range 0..{}", self.count);
        if self.rows_per_chunk > 0 {
            let row_start = i * self.rows_per_chunk;
            let row_stop = (row_start + self.rows_per_chunk).min(self.nrows);
            Chunk {
                row_start,
                row_stop,
                byte_offset: row_start * self.row_bytes,
                byte_len: (row_stop - row_start) * self.row_bytes,
            }
        } else {
            let row = i / self.pieces_per_row;
            let piece_start = (i % self.pieces_per_row) * self.limit;
            Chunk {
                row_start: row,
                row_stop: row + 1,
                byte_offset: row * self.row_bytes + piece_start,
                byte_len: self.limit.min(self.row_bytes - piece_start),
            }
        }
    }

    /// Iterates over all chunks in order.
    pub fn iter(&self) -> impl Iterator<Item = Chunk> + '_ {
        (0..self.count).map(move |i| self.get(i))
    }
}

/// Convenience: the schedule of `nrows` rows of `row_bytes` bytes under `limit`.
pub fn row_chunks(nrows: usize, row_bytes: usize, limit: usize) -> Result<RowChunks> {
    RowChunks::new(nrows, row_bytes, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers_exactly(nrows: usize, row_bytes: usize, limit: usize) {
        let plan = row_chunks(nrows, row_bytes, limit).unwrap();
        let mut next = 0;
        for c in plan.iter() {
            assert_eq!(c.byte_offset, next, "chunks must be contiguous and ordered");
            assert!(c.byte_len >= 1 && c.byte_len <= limit, "chunk {c:?} exceeds {limit}");
            assert_eq!(c.row_start, c.byte_offset / row_bytes);
            assert_eq!(c.row_stop, (c.byte_offset + c.byte_len).div_ceil(row_bytes));
            next += c.byte_len;
        }
        assert_eq!(next, nrows * row_bytes);
    }

    #[test]
    fn step() {
        assert_eq!(chunk_step(8, 64), 8);
        assert_eq!(chunk_step(100, 64), 1);
        assert_eq!(chunk_step(0, 64), 64);
        assert_eq!(chunk_step(65536, i32::MAX as usize), 32767);
    }

    #[test]
    fn schedules_cover_every_byte_once() {
        for nrows in [0, 1, 2, 7, 10] {
            for row_bytes in [0, 1, 3, 8, 40] {
                for limit in [1, 3, 8, 24, 39, 40, 41, 1000] {
                    covers_exactly(nrows, row_bytes, limit);
                }
            }
        }
    }

    #[test]
    fn oversize_rows_split_in_pieces() {
        let plan = row_chunks(2, 10, 4).unwrap();
        assert_eq!(plan.count(), 6);
        assert_eq!(plan.get(2), Chunk { row_start: 0, row_stop: 1, byte_offset: 8, byte_len: 2 });
        assert_eq!(plan.get(3), Chunk { row_start: 1, row_stop: 2, byte_offset: 10, byte_len: 4 });
        assert_eq!(plan.max_chunk_bytes(), 4);
    }

    #[test]
    fn zero_sizes_and_errors() {
        assert_eq!(row_chunks(0, 8, 8).unwrap().count(), 0);
        assert_eq!(row_chunks(5, 0, 8).unwrap().count(), 0);
        assert!(row_chunks(5, 8, 0).is_err());
        assert!(row_chunks(usize::MAX, 2, 8).is_err());
    }
}
