"""dgampi.compat: drop-in replacements for the original DΓA module's
``dgamore.mpi_utils`` and ``dgamore.mpi_distributor``, backed by dgampi.

Switch by importing these modules under the original names::

    import dgampi.compat.mpi_utils as mpi_utils
    from dgampi.compat.mpi_distributor import MpiDistributor

or, with no edit to the application at all, before it imports them::

    import sys, dgampi.compat
    dgampi.compat.install()          # sys.modules["dgamore.mpi_utils"] = ..., same for mpi_distributor

The application's configuration (``dgamore.config``: ``output.output_path``
for the rank files, ``lattice.q_grid`` for the BZ maps) is read when it is
importable; otherwise set the same values on :data:`config`
(``dgampi.compat.config.output.output_path = ...``) or pass them as keywords
(``output_path=``, ``q_grid=``).

Library distributors are shared between compat distributors of the same
processes and split, and never destroyed at garbage collection (destroying
one is collective); :func:`free_library_distributors` destroys them all
(collective over ``COMM_WORLD``). See python/README.md for the differences
from the original.
"""

import sys

from ._common import config, free_library_distributors

__all__ = ["config", "free_library_distributors", "install", "mpi_utils", "mpi_distributor"]

#: The original modules this package replaces, and their replacements.
MODULES = {
    "dgamore.mpi_distributor": "dgampi.compat.mpi_distributor",
    "dgamore.mpi_utils": "dgampi.compat.mpi_utils",
}


def install():
    """Registers the compat modules under the original names in
    ``sys.modules`` (call it before the application imports them), so that
    ``import dgamore.mpi_utils`` and ``from dgamore.mpi_distributor import
    MpiDistributor`` give dgampi's. The ``dgamore`` package itself is
    imported first when it is importable, and the modules are set as its
    attributes too."""
    import importlib

    try:
        parent = importlib.import_module("dgamore")
    except ImportError:
        parent = None
    for original, replacement in MODULES.items():
        module = importlib.import_module(replacement)
        sys.modules[original] = module
        if parent is not None:
            setattr(parent, original.rsplit(".", 1)[1], module)


def __getattr__(name):
    if name in ("mpi_utils", "mpi_distributor"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
