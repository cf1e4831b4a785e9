//! Element types dgampi moves: the `DType` codes of the C ABI and the `Element` trait.

use crate::error::{Error, Result};
use mpi::ffi::MPI_Datatype;
use num_complex::{Complex32, Complex64};

/// Element type code. Exported to C as `dgampi_dtype`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float (`float`, `real(4)`).
    F32 = 1,
    /// 64-bit IEEE float (`double`, `real(8)`).
    F64 = 2,
    /// Complex of two f32 (`float complex`, `complex(4)`, numpy complex64).
    Complex64 = 3,
    /// Complex of two f64 (`double complex`, `complex(8)`, numpy complex128).
    Complex128 = 4,
    /// 32-bit signed integer.
    I32 = 5,
    /// 64-bit signed integer.
    I64 = 6,
    /// 8-bit unsigned integer (raw bytes).
    U8 = 7,
}

impl DType {
    /// All dtypes, in code order.
    /// cbindgen:ignore
    pub const ALL: [DType; 7] =
        [DType::F32, DType::F64, DType::Complex64, DType::Complex128, DType::I32, DType::I64, DType::U8];

    /// Parses a C dtype code.
    pub fn from_code(code: i32) -> Result<DType> {
        DType::ALL
            .iter()
            .copied()
            .find(|d| *d as i32 == code)
            .ok_or_else(|| Error::invalid(format!("unknown dtype code {code} (valid codes are 1..=7)")))
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 | DType::Complex64 => 8,
            DType::Complex128 => 16,
            DType::U8 => 1,
        }
    }

    /// Lower-case name as numpy spells it.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::Complex64 => "complex64",
            DType::Complex128 => "complex128",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
        }
    }

    /// The matching predefined MPI datatype (for reductions).
    pub fn mpi_datatype(self) -> MPI_Datatype {
        // SAFETY: reading rsmpi's extern constants for predefined datatypes.
        unsafe {
            match self {
                DType::F32 => mpi::ffi::RSMPI_FLOAT,
                DType::F64 => mpi::ffi::RSMPI_DOUBLE,
                DType::Complex64 => mpi::ffi::RSMPI_FLOAT_COMPLEX,
                DType::Complex128 => mpi::ffi::RSMPI_DOUBLE_COMPLEX,
                DType::I32 => mpi::ffi::RSMPI_INT32_T,
                DType::I64 => mpi::ffi::RSMPI_INT64_T,
                DType::U8 => mpi::ffi::RSMPI_UINT8_T,
            }
        }
    }
}

/// A plain-old-data element type dgampi can move.
///
/// # Safety
/// Implementors must be `Copy` types without padding whose every bit pattern is
/// valid, with `DTYPE.size() == size_of::<Self>()`.
pub unsafe trait Element: Copy + Send + Sync + Default + 'static {
    /// The dtype code of this element type.
    const DTYPE: DType;
}

macro_rules! impl_element {
    ($($t:ty => $d:ident),*) => {$(
        // SAFETY: primitive numeric types without padding.
        unsafe impl Element for $t { const DTYPE: DType = DType::$d; }
    )*};
}
impl_element!(f32 => F32, f64 => F64, Complex32 => Complex64, Complex64 => Complex128,
              i32 => I32, i64 => I64, u8 => U8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_sizes_match() {
        for d in DType::ALL {
            assert_eq!(DType::from_code(d as i32).unwrap(), d);
        }
        assert!(DType::from_code(0).is_err());
        assert!(DType::from_code(8).is_err());
        assert_eq!(<Complex64 as Element>::DTYPE.size(), std::mem::size_of::<Complex64>());
        assert_eq!(<Complex32 as Element>::DTYPE.size(), std::mem::size_of::<Complex32>());
        assert_eq!(<i64 as Element>::DTYPE.size(), 8);
    }
}
