//! The per-k orbital transform applied when unfolding to the full BZ.
//!
//! For data `[q, orb..., trailing...]` with 2 or 4 orbital axes of length `nb`
//! right after q, row q becomes
//! - 2 axes: `M_ab = sigma_q · Σ U_aa' [M_a'b']^(*conj_q) conj(U_bb')`;
//! - 4 axes: the same with `U` on axes 1 and 3, `U^†` on axes 2 and 4, and
//!   `sigma_q^2 = 1`.
//!
//! Trailing (frequency) axes ride along. `U`, `sigma` and `conj` are given for
//! this rank's rows, or for all rows and sliced by the caller's offset.

use crate::buffer::RawArray;
use crate::element::DType;
use crate::error::{Error, Result};
use num_complex::{Complex32, Complex64};

/// The transform's inputs: `u` is `[n, nb, nb]` row-major, `sigma` and `conj`
/// have `n` entries, where `n` is either the number of local rows or the total
/// number of rows (then sliced at the caller's offset).
#[derive(Clone, Copy, Debug)]
pub struct OrbitalTransform<'a> {
    /// Unitary matrices, `n * nb * nb` values.
    pub u: &'a [Complex64],
    /// Orbital dimension.
    pub nb: usize,
    /// Number of orbital axes right after q: 2 or 4.
    pub axes: usize,
    /// Signs (±1).
    pub sigma: &'a [f64],
    /// Whether to conjugate the representative's data.
    pub conj: &'a [bool],
}

impl OrbitalTransform<'_> {
    fn rows(&self) -> usize {
        self.sigma.len()
    }

    /// Checks the inputs for a block of `nlocal` rows starting at global row
    /// `offset` of `ntotal`, and data of `row_shape`; returns the first row of
    /// the inputs to use.
    pub fn check(&self, row_shape: &[usize], dtype: DType, nlocal: usize, offset: usize, ntotal: usize) -> Result<usize> {
        let n = self.rows();
        let expected = self.nb.checked_mul(self.nb).and_then(|m| m.checked_mul(n));
        if self.conj.len() != n || Some(self.u.len()) != expected {
            return Err(Error::mismatch(format!(
                "U has {} values, sigma {} and conj {} entries: expected n*nb*nb, n and n with nb = {}",
                self.u.len(),
                n,
                self.conj.len(),
                self.nb
            )));
        }
        let first = if n == nlocal {
            0
        } else if n == ntotal {
            offset
        } else {
            return Err(Error::mismatch(format!(
                "the transform covers {n} k-points; expected this rank's {nlocal} or all {ntotal}"
            )));
        };
        if let Some(k) = self.sigma.iter().position(|&x| x != 1.0 && x != -1.0) {
            return Err(Error::invalid(format!("sigma[{k}] = {} is not +1 or -1", self.sigma[k])));
        }
        check_axes(row_shape, self.nb, self.axes)?;
        if !matches!(dtype, DType::Complex64 | DType::Complex128) {
            return Err(Error::invalid(format!("the orbital transform needs complex data, got {}", dtype.name())));
        }
        Ok(first)
    }

    /// Transforms every row of `block` in place (rows `first..` of the inputs).
    pub(crate) fn apply(&self, block: &RawArray, first: usize) -> Result<()> {
        check_axes(block.row_shape(), self.nb, self.axes)?;
        let axes = self.axes;
        if !matches!(block.dtype(), DType::Complex64 | DType::Complex128) {
            return Err(Error::invalid(format!("the orbital transform needs complex data, got {}", block.dtype().name())));
        }
        let row_bytes = block.row_bytes();
        if row_bytes == 0 {
            return Ok(());
        }
        let mut row = vec![0u8; row_bytes];
        for i in 0..block.nrows() {
            let k = first + i;
            block.pack(i * row_bytes, &mut row);
            let u = &self.u[k * self.nb * self.nb..(k + 1) * self.nb * self.nb];
            let sign = if axes == 2 { self.sigma[k] } else { 1.0 };
            let mut m = read_row(&row, block.dtype());
            transform_row(&mut m, u, self.nb, axes, sign, self.conj[k]);
            write_row(&mut row, block.dtype(), &m);
            block.unpack(i * row_bytes, &row);
        }
        Ok(())
    }
}

/// A copy of a transform's inputs for a run of rows, which a plan keeps
/// (the caller's slices need not outlive plan creation).
#[derive(Clone, Debug)]
pub(crate) struct OwnedTransform {
    u: Vec<Complex64>,
    nb: usize,
    axes: usize,
    sigma: Vec<f64>,
    conj: Vec<bool>,
}

impl OwnedTransform {
    /// Rows `first..first + n` of `t`'s inputs (checked by [`OrbitalTransform::check`]).
    pub(crate) fn rows_of(t: &OrbitalTransform, first: usize, n: usize) -> OwnedTransform {
        let m = t.nb * t.nb;
        OwnedTransform {
            u: t.u[first * m..(first + n) * m].to_vec(),
            nb: t.nb,
            axes: t.axes,
            sigma: t.sigma[first..first + n].to_vec(),
            conj: t.conj[first..first + n].to_vec(),
        }
    }

    /// Owned inputs (a binding's converted arrays), not yet checked.
    pub(crate) fn new(u: Vec<Complex64>, nb: usize, axes: usize, sigma: Vec<f64>, conj: Vec<bool>) -> OwnedTransform {
        OwnedTransform { u, nb, axes, sigma, conj }
    }

    /// The transform over these inputs.
    pub(crate) fn view(&self) -> OrbitalTransform<'_> {
        OrbitalTransform { u: &self.u, nb: self.nb, axes: self.axes, sigma: &self.sigma, conj: &self.conj }
    }
}

/// Checks that a row shape starts with `axes` (2 or 4) axes of length `nb`.
fn check_axes(row_shape: &[usize], nb: usize, axes: usize) -> Result<()> {
    if axes != 2 && axes != 4 {
        return Err(Error::invalid(format!("the orbital transform takes 2 or 4 orbital axes, not {axes}")));
    }
    if nb == 0 || row_shape.len() < axes || row_shape[..axes].iter().any(|&n| n != nb) {
        return Err(Error::mismatch(format!(
            "rows of shape {row_shape:?} do not start with {axes} orbital axes of length {nb}"
        )));
    }
    Ok(())
}

/// Reads a row of complex elements (complex64 widened) as `Complex64`.
fn read_row(bytes: &[u8], dtype: DType) -> Vec<Complex64> {
    match dtype {
        DType::Complex64 => bytes
            .chunks_exact(8)
            .map(|b| {
                let f = |k: usize| f32::from_ne_bytes(b[k..k + 4].try_into().expect("4 bytes")) as f64;
                Complex64::new(f(0), f(4))
            })
            .collect(),
        _ => bytes
            .chunks_exact(16)
            .map(|b| {
                let f = |k: usize| f64::from_ne_bytes(b[k..k + 8].try_into().expect("8 bytes"));
                Complex64::new(f(0), f(8))
            })
            .collect(),
    }
}

/// Writes `Complex64` values back as the row's element type.
fn write_row(bytes: &mut [u8], dtype: DType, m: &[Complex64]) {
    match dtype {
        DType::Complex64 => {
            for (b, z) in bytes.chunks_exact_mut(8).zip(m) {
                b[..4].copy_from_slice(&(z.re as f32).to_ne_bytes());
                b[4..].copy_from_slice(&(z.im as f32).to_ne_bytes());
            }
        }
        _ => {
            for (b, z) in bytes.chunks_exact_mut(16).zip(m) {
                b[..8].copy_from_slice(&z.re.to_ne_bytes());
                b[8..].copy_from_slice(&z.im.to_ne_bytes());
            }
        }
    }
}

/// Applies the transform to one row: `U` along the even orbital axes, `U^†`
/// from the right (conj(U)) along the odd ones, then the sign.
fn transform_row(m: &mut Vec<Complex64>, u: &[Complex64], nb: usize, axes: usize, sign: f64, conj: bool) {
    let n = m.len();
    if conj {
        m.iter_mut().for_each(|z| *z = z.conj());
    }
    let uc: Vec<Complex64> = u.iter().map(|z| z.conj()).collect();
    let inner = n / nb.pow(axes as u32);
    let mut tmp = vec![Complex64::default(); n];
    for axis in 0..axes {
        let mat = if axis % 2 == 0 { u } else { &uc };
        let after = nb.pow((axes - 1 - axis) as u32) * inner;
        let before = n / (after * nb);
        for b in 0..before {
            for a in 0..nb {
                for t in 0..after {
                    let mut acc = Complex64::default();
                    for a2 in 0..nb {
                        acc += mat[a * nb + a2] * m[(b * nb + a2) * after + t];
                    }
                    tmp[(b * nb + a) * after + t] = acc;
                }
            }
        }
        std::mem::swap(m, &mut tmp);
    }
    m.iter_mut().for_each(|z| *z *= sign);
}

/// Converts complex64 matrices to the f64 form the transform takes.
pub fn widen(u: &[Complex32]) -> Vec<Complex64> {
    u.iter().map(|z| Complex64::new(z.re as f64, z.im as f64)).collect()
}
