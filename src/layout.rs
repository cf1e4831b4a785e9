//! Ownership layouts: which contiguous block of tasks (rows) each rank owns.

use crate::error::{Error, Result};

/// Contiguous per-rank blocks of `ntasks` tasks over `nranks` ranks.
///
/// Every rank gets `ntasks / nranks` tasks and the remainder goes one each to
/// the LAST ranks: 7 tasks on 3 ranks give sizes `[2, 2, 3]` and offsets
/// `[0, 2, 4]`; 1 task on 3 ranks gives `[0, 0, 1]`.
///
/// [`BlockLayout::excess_first`] gives the other convention (the pencil
/// layouts of the FFT): 7 tasks on 3 ranks give sizes `[3, 2, 2]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockLayout {
    ntasks: usize,
    sizes: Vec<usize>,
    offsets: Vec<usize>,
    /// True when the remainder goes to the first ranks.
    first: bool,
}

impl BlockLayout {
    /// Splits `ntasks` over `nranks` (at least 1) ranks, excess on the last ranks.
    pub fn new(ntasks: usize, nranks: usize) -> Result<BlockLayout> {
        BlockLayout::split(ntasks, nranks, false)
    }

    /// Splits `ntasks` over `nranks` (at least 1) ranks, excess on the FIRST ranks.
    pub fn excess_first(ntasks: usize, nranks: usize) -> Result<BlockLayout> {
        BlockLayout::split(ntasks, nranks, true)
    }

    fn split(ntasks: usize, nranks: usize, first: bool) -> Result<BlockLayout> {
        if nranks == 0 {
            return Err(Error::invalid("a layout needs at least one rank"));
        }
        let (base, extra) = (ntasks / nranks, ntasks % nranks);
        let bigger = |r: usize| if first { r < extra } else { r >= nranks - extra };
        let sizes: Vec<usize> = (0..nranks).map(|r| base + usize::from(bigger(r))).collect();
        let offsets = sizes
            .iter()
            .scan(0usize, |acc, n| {
                let start = *acc;
                *acc += n;
                Some(start)
            })
            .collect();
        Ok(BlockLayout { ntasks, sizes, offsets, first })
    }

    /// Total number of tasks.
    pub fn ntasks(&self) -> usize {
        self.ntasks
    }
    /// Number of ranks.
    pub fn nranks(&self) -> usize {
        self.sizes.len()
    }
    /// Tasks per rank.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    /// First task of each rank.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }
    /// Task range `offset..offset + size` of `rank`.
    pub fn range(&self, rank: usize) -> std::ops::Range<usize> {
        self.offsets[rank]..self.offsets[rank] + self.sizes[rank]
    }
    /// The rank owning task `task` (which must be below `ntasks`) and its index there. O(1).
    pub fn owner(&self, task: usize) -> (usize, usize) {
        let nranks = self.sizes.len();
        let (base, extra) = (self.ntasks / nranks, self.ntasks % nranks);
        if self.first {
            let boundary = extra * (base + 1);
            return if task < boundary {
                (task / (base + 1), task % (base + 1))
            } else {
                let k = task - boundary;
                (extra + k / base, k % base)
            };
        }
        let boundary = (nranks - extra) * base;
        if task < boundary {
            (task / base, task % base)
        } else {
            let k = task - boundary;
            (nranks - extra + k / (base + 1), k % (base + 1))
        }
    }

    /// The largest block, in tasks.
    pub fn max_size(&self) -> usize {
        self.sizes.iter().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excess_goes_to_the_last_ranks() {
        let l = BlockLayout::new(7, 3).unwrap();
        assert_eq!((l.sizes(), l.offsets()), (&[2, 2, 3][..], &[0, 2, 4][..]));
        let l = BlockLayout::new(1, 3).unwrap();
        assert_eq!((l.sizes(), l.offsets()), (&[0, 0, 1][..], &[0, 0, 0][..]));
        let l = BlockLayout::new(0, 2).unwrap();
        assert_eq!(l.sizes(), &[0, 0]);
        assert!(BlockLayout::new(3, 0).is_err());
        let l = BlockLayout::excess_first(7, 3).unwrap();
        assert_eq!((l.sizes(), l.offsets()), (&[3, 2, 2][..], &[0, 3, 5][..]));
        for n in 0..40 {
            for r in 1..9 {
                for l in [BlockLayout::new(n, r).unwrap(), BlockLayout::excess_first(n, r).unwrap()] {
                assert_eq!(l.ntasks(), n);
                assert!(l.max_size() - l.sizes()[0] <= 1);
                assert_eq!(l.range(r - 1).end, n);
                for t in 0..n {
                    let (rank, local) = l.owner(t);
                    assert_eq!(l.range(rank).start + local, t);
                    assert!(local < l.sizes()[rank]);
                }
                }
            }
        }
    }
}
