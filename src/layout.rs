//! Ownership layouts: which contiguous block of tasks (rows) each rank owns.

use crate::error::{Error, Result};

/// Contiguous per-rank blocks of `ntasks` tasks over `nranks` ranks.
///
/// Every rank gets `ntasks / nranks` tasks and the remainder goes one each to
/// the LAST ranks: 7 tasks on 3 ranks give sizes `[2, 2, 3]` and offsets
/// `[0, 2, 4]`; 1 task on 3 ranks gives `[0, 0, 1]`.
///
/// [`BlockLayout::excess_first`] gives the other convention (the pencil
/// layouts of the FFT): 7 tasks on 3 ranks give sizes `[3, 2, 2]`, and
/// [`BlockLayout::from_sizes`] any given split (the node-aware frequency
/// split, a caller's own).
#[derive(Clone, Debug)]
pub struct BlockLayout {
    ntasks: usize,
    sizes: Vec<usize>,
    offsets: Vec<usize>,
    kind: Kind,
}

/// Two layouts are equal when they give every rank the same tasks, however made.
impl PartialEq for BlockLayout {
    fn eq(&self, other: &BlockLayout) -> bool {
        self.sizes == other.sizes
    }
}

impl Eq for BlockLayout {}

/// How the sizes were made, which tells [`BlockLayout::owner`] how to find a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Even split, remainder on the last ranks.
    ExcessLast,
    /// Even split, remainder on the first ranks.
    ExcessFirst,
    /// Sizes given by the caller.
    Given,
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

    /// The split with the given tasks per rank (one entry per rank, at least
    /// one rank; ranks may own nothing). Fails when the total overflows.
    pub fn from_sizes(sizes: &[usize]) -> Result<BlockLayout> {
        if sizes.is_empty() {
            return Err(Error::invalid("a layout needs at least one rank"));
        }
        let ntasks = sizes
            .iter()
            .try_fold(0usize, |acc, &n| acc.checked_add(n))
            .ok_or_else(|| Error::out_of_range(format!("the sizes {sizes:?} add up to more than an address space")))?;
        Ok(BlockLayout { ntasks, sizes: sizes.to_vec(), offsets: offsets_of(sizes), kind: Kind::Given })
    }

    fn split(ntasks: usize, nranks: usize, first: bool) -> Result<BlockLayout> {
        if nranks == 0 {
            return Err(Error::invalid("a layout needs at least one rank"));
        }
        let (base, extra) = (ntasks / nranks, ntasks % nranks);
        let bigger = |r: usize| if first { r < extra } else { r >= nranks - extra };
        let sizes: Vec<usize> = (0..nranks).map(|r| base + usize::from(bigger(r))).collect();
        let offsets = offsets_of(&sizes);
        Ok(BlockLayout { ntasks, sizes, offsets, kind: if first { Kind::ExcessFirst } else { Kind::ExcessLast } })
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
    /// The rank owning task `task` (which must be below `ntasks`) and its
    /// index there. O(1) for the even splits, O(log ranks) for given sizes.
    pub fn owner(&self, task: usize) -> (usize, usize) {
        let nranks = self.sizes.len();
        if self.kind == Kind::Given {
            // The last rank starting at or before `task` holds it (ranks that
            // own nothing start where the next one does).
            let rank = self.offsets.partition_point(|&o| o <= task) - 1;
            return (rank, task - self.offsets[rank]);
        }
        let (base, extra) = (self.ntasks / nranks, self.ntasks % nranks);
        if self.kind == Kind::ExcessFirst {
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

/// The first task of each rank for `sizes`.
fn offsets_of(sizes: &[usize]) -> Vec<usize> {
    sizes
        .iter()
        .scan(0usize, |acc, n| {
            let start = *acc;
            *acc += n;
            Some(start)
        })
        .collect()
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

    #[test]
    fn given_sizes_find_every_owner() {
        for sizes in [&[3, 0, 2, 0][..], &[0, 0, 5], &[4], &[0], &[1, 1, 0, 0, 1], &[0, 2, 0, 3, 0]] {
            let l = BlockLayout::from_sizes(sizes).unwrap();
            assert_eq!(l.sizes(), sizes);
            assert_eq!(l.ntasks(), sizes.iter().sum::<usize>());
            assert_eq!(l.max_size(), *sizes.iter().max().unwrap());
            for t in 0..l.ntasks() {
                let (rank, local) = l.owner(t);
                assert!(local < sizes[rank] && l.range(rank).start + local == t, "{sizes:?} task {t}");
            }
        }
        // The even splits, given as sizes, describe the same ownership.
        let even = BlockLayout::new(7, 3).unwrap();
        let given = BlockLayout::from_sizes(even.sizes()).unwrap();
        assert!((0..7).all(|t| even.owner(t) == given.owner(t)));
        assert!(BlockLayout::from_sizes(&[]).is_err());
        assert!(BlockLayout::from_sizes(&[usize::MAX, 1]).is_err());
    }
}
