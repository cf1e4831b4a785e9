//! Generates `include/dgampi.h` with cbindgen (rewritten only when it changes),
//! gives the shared library its soname, and compiles the small C shim that
//! reads constants such as `MPI_IN_PLACE` from the MPI library's own `mpi.h`
//! (with `$MPICC`, default `mpicc`, the compiler rsmpi's build also honours).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdgampi.so.{major}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=MPICC");

    let mpicc = std::env::var("MPICC").unwrap_or_else(|_| "mpicc".to_string());
    cc::Build::new().compiler(&mpicc).file(crate_dir.join("src").join("mpi_shim.c")).compile("dgampi_mpi_shim");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/dgampi.h");
    let mut text = Vec::new();
    bindings.write(&mut text);
    let header = crate_dir.join("include").join("dgampi.h");
    if std::fs::read(&header).ok().as_deref() != Some(&text[..]) {
        std::fs::create_dir_all(header.parent().unwrap()).unwrap();
        std::fs::write(&header, &text).unwrap();
    }
}
