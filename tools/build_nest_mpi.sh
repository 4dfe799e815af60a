#!/usr/bin/env bash
# Opt-in: build NEST from its source distribution on PyPI with MPI switched on, into a virtual
# environment (default: the project's .venv, made by `make` first), replacing the NEST wheel there.
#
# Usage: tools/build_nest_mpi.sh [VENV_DIR]        (make nest-mpi)
#
# The NEST wheel on PyPI is built without MPI (nest.build_info["have_mpi"] is False); its
# source distribution (nest-simulator 3.10.0, 36 MB) builds with scikit-build-core, which takes
# CMake options as `-C cmake.define.NAME=VALUE`. OpenMPI comes from the system packages, mpi4py
# from PyPI (the backend gathers each rank's results on rank 0 with it). About 30 to 60 minutes on
# 2 cores. Check: `mpirun -np 2 VENV/bin/python -c "import nest; print(nest.NumProcesses())"`.
# Back to the wheel: VENV/bin/pip install --force-reinstall --no-deps nest-simulator==3.10.0
set -euo pipefail
venv="${1:-.venv}"
version="3.10.0"
if [ ! -x "$venv/bin/python" ]; then
    echo "error: no virtual environment at $venv (run 'make test' or tools/bootstrap.sh first)" >&2
    exit 1
fi

# MPI and what NEST's build needs, from the system packages
packages="openmpi-bin libopenmpi-dev cmake g++ make libboost-dev libltdl-dev libgsl-dev libreadline-dev"
missing=""
for package in $packages; do
    dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing system packages:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    else
        echo "error: NEST with MPI needs the system packages:$missing (apt-get install them as root)" >&2
        exit 1
    fi
fi

"$venv/bin/python" -m pip install -q "mpi4py==4.1.2"
# --no-binary: the source distribution, compiled here; MPI and OpenMP on, GSL for the models
# that integrate with it (the NESTML modules of this project build against this NEST).
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$venv/bin/python" -m pip install -v --force-reinstall --no-deps \
    --no-binary nest-simulator "nest-simulator==$version" \
    -C cmake.define.with-mpi=ON \
    -C cmake.define.with-openmp=ON \
    -C cmake.define.with-gsl=ON \
    -C cmake.define.with-ltdl=ON \
    -C cmake.define.with-readline=OFF

"$venv/bin/python" - <<'PY'
import nest
if not nest.build_info.get("have_mpi"):
    raise SystemExit("error: the NEST that was built reports have_mpi = False")
print(f"NEST {nest.__version__} with MPI: {nest.build_info.get('mpiexec', 'mpirun')}")
PY
