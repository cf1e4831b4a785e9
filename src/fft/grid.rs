//! The q-grid of the distributed FFT and the ways its points are owned:
//! the flat split of the distributor, pencils (whole lines along one axis)
//! and slabs (whole planes across one axis). Every ownership is analytic, so
//! any rank can name any rank's points and find any point's owner in O(1).

use crate::error::{Error, Result};
use crate::layout::BlockLayout;

/// A 3-D grid of `nx * ny * nz` q-points with flat index
/// `q = (ix * ny + iy) * nz + iz` (row-major, z fastest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Points along x, y and z.
    pub n: [usize; 3],
}

impl Grid {
    /// A grid of `nq = [nx, ny, nz]` points; every extent must be at least 1.
    pub fn new(nq: [usize; 3]) -> Result<Grid> {
        if nq.contains(&0) {
            return Err(Error::invalid(format!("the q-grid {nq:?} has an empty axis; every extent must be at least 1")));
        }
        nq.iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or_else(|| Error::out_of_range(format!("the q-grid {nq:?} has too many points")))?;
        Ok(Grid { n: nq })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.n.iter().product()
    }

    /// Always false: a grid has at least one point.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Coordinates `[ix, iy, iz]` of flat index `q`.
    pub fn coords(&self, q: usize) -> [usize; 3] {
        let [_, ny, nz] = self.n;
        [q / (ny * nz), (q / nz) % ny, q % nz]
    }

    /// Flat index of coordinates `c`.
    pub fn index(&self, c: [usize; 3]) -> usize {
        (c[0] * self.n[1] + c[1]) * self.n[2] + c[2]
    }
}

/// The public layouts of `pencil_indices` (C: `dgampi_layout`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The distributor's contiguous blocks of q (excess on the last ranks).
    Flat = 0,
    /// Whole lines along z; the `nx * ny` lines are split with the excess on the first ranks.
    ZPencil = 1,
    /// Whole lines along y; the `nx * nz` lines are split with the excess on the first ranks.
    YPencil = 2,
    /// Whole lines along x; the `ny * nz` lines are split with the excess on the first ranks.
    XPencil = 3,
}

impl Layout {
    /// Parses `flat`, `z_pencil`, `y_pencil` or `x_pencil`.
    pub fn parse(name: &str) -> Result<Layout> {
        match name {
            "flat" => Ok(Layout::Flat),
            "z_pencil" => Ok(Layout::ZPencil),
            "y_pencil" => Ok(Layout::YPencil),
            "x_pencil" => Ok(Layout::XPencil),
            _ => Err(Error::invalid(format!("unknown layout {name:?} (valid: flat, z_pencil, y_pencil, x_pencil)"))),
        }
    }

    /// Parses a C layout code (0 flat, 1 z, 2 y, 3 x pencil).
    pub fn from_code(code: i32) -> Result<Layout> {
        [Layout::Flat, Layout::ZPencil, Layout::YPencil, Layout::XPencil]
            .into_iter()
            .find(|l| *l as i32 == code)
            .ok_or_else(|| Error::invalid(format!("unknown layout code {code} (valid: 0 flat, 1 z_pencil, 2 y_pencil, 3 x_pencil)")))
    }
}

/// The q indices rank `rank` of `size` owns in `layout`, in the order it
/// stores them: ascending for `flat`; line by line for pencils, the pencil
/// axis fastest (lines numbered row-major over the two other axes). Every
/// index is owned exactly once for any rank count.
pub fn pencil_indices(rank: usize, size: usize, nq: [usize; 3], layout: Layout) -> Result<Vec<usize>> {
    if rank >= size {
        return Err(Error::out_of_range(format!("rank {rank} is outside a communicator of {size} ranks")));
    }
    let own = Ownership::of_layout(Grid::new(nq)?, size, layout)?;
    Ok(own.indices(rank).collect())
}

/// The number of q indices rank `rank` of `size` owns in `layout` (O(1) in
/// the grid size; what [`pencil_indices`] would return the length of).
pub fn pencil_count(rank: usize, size: usize, nq: [usize; 3], layout: Layout) -> Result<usize> {
    if rank >= size {
        return Err(Error::out_of_range(format!("rank {rank} is outside a communicator of {size} ranks")));
    }
    Ok(Ownership::of_layout(Grid::new(nq)?, size, layout)?.count(rank))
}

/// How the ranks own the grid points, and how each rank stores its points:
/// as a C-ordered local box (see [`Ownership::local_box`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// Contiguous blocks of flat indices.
    Flat { grid: Grid, blocks: BlockLayout },
    /// Whole lines along `axis`, the lines (row-major over the other two
    /// axes) split in `lines`; stored line by line.
    Pencil { grid: Grid, axis: usize, lines: BlockLayout },
    /// The planes across `axis` split in `planes`; stored in grid order.
    Slab { grid: Grid, axis: usize, planes: BlockLayout },
}

impl Ownership {
    /// The ownership of a public layout on `size` ranks.
    pub(crate) fn of_layout(grid: Grid, size: usize, layout: Layout) -> Result<Ownership> {
        let pencil = |axis: usize| -> Result<Ownership> {
            let [a, b] = other_axes(axis);
            Ok(Ownership::Pencil { grid, axis, lines: BlockLayout::excess_first(grid.n[a] * grid.n[b], size)? })
        };
        match layout {
            Layout::Flat => Ok(Ownership::Flat { grid, blocks: BlockLayout::new(grid.len(), size)? }),
            Layout::ZPencil => pencil(2),
            Layout::YPencil => pencil(1),
            Layout::XPencil => pencil(0),
        }
    }

    /// Planes across `axis` split over `size` ranks (excess on the last ranks,
    /// so x-slabs coincide with the flat split whenever that holds whole planes).
    pub(crate) fn slab(grid: Grid, size: usize, axis: usize) -> Result<Ownership> {
        Ok(Ownership::Slab { grid, axis, planes: BlockLayout::new(grid.n[axis], size)? })
    }

    fn grid(&self) -> Grid {
        match self {
            Ownership::Flat { grid, .. } | Ownership::Pencil { grid, .. } | Ownership::Slab { grid, .. } => *grid,
        }
    }

    /// Number of points `rank` stores.
    pub(crate) fn count(&self, rank: usize) -> usize {
        self.local_box(rank).iter().map(|(n, _)| n).product()
    }

    /// The largest count over ranks.
    pub(crate) fn max_count(&self, nranks: usize) -> usize {
        (0..nranks).map(|r| self.count(r)).max().unwrap_or(0)
    }

    /// The C-ordered box `rank` stores its points in: per local axis, its
    /// extent and the grid axis it runs along whole (None when it does not,
    /// e.g. the line index of a pencil or a flat block).
    pub(crate) fn local_box(&self, rank: usize) -> Vec<(usize, Option<usize>)> {
        match self {
            Ownership::Flat { blocks, .. } => vec![(blocks.sizes()[rank], None)],
            Ownership::Pencil { grid, axis, lines } => vec![(lines.sizes()[rank], None), (grid.n[*axis], Some(*axis))],
            Ownership::Slab { grid, axis, planes } => (0..3)
                .map(|a| if a == *axis { (planes.sizes()[rank], None) } else { (grid.n[a], Some(a)) })
                .collect(),
        }
    }

    /// The flat indices `rank` stores, in storage order.
    pub(crate) fn indices(&self, rank: usize) -> Box<dyn Iterator<Item = usize> + '_> {
        let grid = self.grid();
        match self {
            Ownership::Flat { blocks, .. } => Box::new(blocks.range(rank)),
            Ownership::Pencil { axis, lines, .. } => {
                let (axis, [a, b]) = (*axis, other_axes(*axis));
                Box::new(lines.range(rank).flat_map(move |line| {
                    (0..grid.n[axis]).map(move |pos| {
                        let mut c = [0; 3];
                        (c[a], c[b], c[axis]) = (line / grid.n[b], line % grid.n[b], pos);
                        grid.index(c)
                    })
                }))
            }
            Ownership::Slab { axis, planes, .. } => {
                let (axis, first) = (*axis, planes.offsets()[rank]);
                let mut extent = grid.n;
                extent[axis] = planes.sizes()[rank];
                Box::new((0..extent.iter().product()).map(move |l: usize| {
                    let mut c = [l / (extent[1] * extent[2]), (l / extent[2]) % extent[1], l % extent[2]];
                    c[axis] += first;
                    grid.index(c)
                }))
            }
        }
    }

    /// The flat indices `rank` stores when they are one increasing run, so
    /// that two layouts compare per rank in O(1): flat blocks; slabs along
    /// an axis with only length-1 axes before it (x-slabs); pencils along an
    /// axis with only length-1 axes after it (z-pencils). None for the others.
    pub(crate) fn as_range(&self, rank: usize) -> Option<std::ops::Range<usize>> {
        let n = self.grid().n;
        let scaled = |r: std::ops::Range<usize>, by: usize| r.start * by..r.end * by;
        match self {
            Ownership::Flat { blocks, .. } => Some(blocks.range(rank)),
            Ownership::Slab { axis, planes, .. } if n[..*axis].iter().all(|&m| m == 1) => {
                Some(scaled(planes.range(rank), n[*axis + 1..].iter().product()))
            }
            Ownership::Pencil { axis, lines, .. } if n[*axis + 1..].iter().all(|&m| m == 1) => Some(scaled(lines.range(rank), n[*axis])),
            _ => None,
        }
    }

    /// The rank storing flat index `q` and its position there.
    pub(crate) fn owner(&self, q: usize) -> (usize, usize) {
        let grid = self.grid();
        match self {
            Ownership::Flat { blocks, .. } => blocks.owner(q),
            Ownership::Pencil { axis, lines, .. } => {
                let (c, [a, b]) = (grid.coords(q), other_axes(*axis));
                let (rank, line) = lines.owner(c[a] * grid.n[b] + c[b]);
                (rank, line * grid.n[*axis] + c[*axis])
            }
            Ownership::Slab { axis, planes, .. } => {
                let mut c = grid.coords(q);
                let (rank, plane) = planes.owner(c[*axis]);
                c[*axis] = plane;
                let mut extent = grid.n;
                extent[*axis] = planes.sizes()[rank];
                (rank, (c[0] * extent[1] + c[1]) * extent[2] + c[2])
            }
        }
    }
}

/// The two grid axes other than `axis`, in increasing order.
fn other_axes(axis: usize) -> [usize; 2] {
    match axis {
        0 => [1, 2],
        1 => [0, 2],
        _ => [0, 1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flat split, the three pencil layouts and the three slab layouts.
    fn every_ownership(grid: Grid, size: usize) -> Vec<Ownership> {
        let mut owns: Vec<Ownership> =
            [Layout::Flat, Layout::ZPencil, Layout::YPencil, Layout::XPencil].iter().map(|&l| Ownership::of_layout(grid, size, l).unwrap()).collect();
        owns.extend((0..3).map(|a| Ownership::slab(grid, size, a).unwrap()));
        owns
    }

    #[test]
    fn every_index_is_owned_once_and_owner_agrees_with_storage() {
        for nq in [[2, 3, 2], [4, 4, 4], [13, 7, 5], [1, 1, 8], [8, 1, 1], [1, 1, 1]] {
            let grid = Grid::new(nq).unwrap();
            for size in 1..=9 {
                let owns = every_ownership(grid, size);
                for own in &owns {
                    let mut seen = vec![0; grid.len()];
                    for r in 0..size {
                        let idx: Vec<usize> = own.indices(r).collect();
                        assert_eq!(idx.len(), own.count(r));
                        if let Some(run) = own.as_range(r) {
                            assert_eq!(run.collect::<Vec<_>>(), idx, "{own:?} rank {r}");
                        }
                        for (k, &q) in idx.iter().enumerate() {
                            seen[q] += 1;
                            assert_eq!(own.owner(q), (r, k), "{own:?} q={q}");
                        }
                    }
                    assert!(seen.iter().all(|&s| s == 1), "{own:?}");
                }
            }
        }
    }

    #[test]
    fn permutation_plans_equal_the_general_plans() {
        use crate::engine::RowPlan;
        for nq in [[2, 3, 2], [4, 4, 4], [5, 3, 7], [1, 1, 8], [8, 1, 1], [1, 1, 1]] {
            let grid = Grid::new(nq).unwrap();
            for size in 1..=6 {
                let owns = every_ownership(grid, size);
                for a in &owns {
                    for b in &owns {
                        for rank in 0..size {
                            let (ns, nd) = (a.count(rank), b.count(rank));
                            let general = RowPlan::build(size, rank, ns, nd, |p| b.indices(p), |q| Ok(a.owner(q))).unwrap();
                            let fast = RowPlan::permutation(size, rank, ns, nd, a.indices(rank), b.indices(rank), |q| Ok(a.owner(q)), |q| Ok(b.owner(q)))
                                .unwrap();
                            assert_eq!(fast.canonical(), general.canonical(), "{nq:?} on {size} ranks, rank {rank}: {a:?} -> {b:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn layouts_follow_the_conventions() {
        // 2x3x2: z-pencils are (ix, iy) lines; 6 lines on 4 ranks: 2, 2, 1, 1.
        assert_eq!(pencil_indices(0, 4, [2, 3, 2], Layout::ZPencil).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(pencil_indices(3, 4, [2, 3, 2], Layout::ZPencil).unwrap(), vec![10, 11]);
        // y-pencils: lines (ix, iz), iy fastest.
        assert_eq!(pencil_indices(0, 1, [2, 3, 2], Layout::YPencil).unwrap()[..6], [0, 2, 4, 1, 3, 5]);
        // x-pencils: lines (iy, iz), ix fastest.
        assert_eq!(pencil_indices(0, 1, [2, 3, 2], Layout::XPencil).unwrap()[..4], [0, 6, 1, 7]);
        // flat: excess on the last ranks.
        assert_eq!(pencil_indices(2, 3, [7, 1, 1], Layout::Flat).unwrap(), vec![4, 5, 6]);
        // more ranks than pencils: the last ranks own nothing.
        assert_eq!(pencil_indices(5, 6, [8, 1, 1], Layout::XPencil).unwrap(), Vec::<usize>::new());
        assert_eq!(pencil_indices(0, 6, [8, 1, 1], Layout::XPencil).unwrap(), (0..8).collect::<Vec<_>>());
        assert!(Layout::parse("w_pencil").is_err());
        assert!(pencil_indices(0, 1, [0, 1, 1], Layout::Flat).is_err());
        assert!(pencil_indices(2, 2, [1, 1, 1], Layout::Flat).is_err());
    }
}
