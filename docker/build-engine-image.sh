#!/usr/bin/env bash
# Builds the game engine image, galaxy-engine:<version>, from this checkout.
# <version> is galaxy's (`galaxy version`): the image a fresh engine registry
# registers. What `make engine-image` runs, and the tests with it.
#
#   make engine-image                          # on galaxy-python-base:local
#   make engine-image BASE=python:3.11-slim    # any Python 3.11 image with pip
#
# The galaxy wheel (built here from a clean copy of the sources) and the
# engine's dependency wheels (`make engine-wheels`, build/engine-wheels) go
# into one wheelhouse; docker/engine.Dockerfile installs them offline, and
# the build runs with `--network none`. Nothing is ever pulled: BASE must be
# on the Docker host already (galaxy-python-base:local is made with no
# registry by `../shared/tools/dockerd-sandbox base-image`; another base is
# `docker pull`ed first by whoever wants it).
#
# Environment: BASE, PYTHON (default .venv/bin/python, with galaxy and
# setuptools installed: `make install`), WHEELS (default build/engine-wheels),
# DOCKER (default docker). The last line of stdout is the tag. The engine
# wheels include compiled ones (greenlet, markupsafe) made by the venv's
# Python for this machine: the base needs the same Python minor version
# (3.11) on the same architecture.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=${BASE:-galaxy-python-base:local}
python=${PYTHON:-$root/.venv/bin/python}
wheels=${WHEELS:-$root/build/engine-wheels}
docker=${DOCKER:-docker}

fail() {
    echo "build-engine-image: $*" >&2
    exit 1
}

[ -f "$wheels/.stamp" ] || fail "no engine wheels in $wheels: run make engine-wheels"
version=$("$python" -c 'import galaxy; print(galaxy.__version__)') ||
    fail "$python cannot import galaxy: run make install"
tag="galaxy-engine:$version"

# Never a pull: `docker build` would fetch a missing FROM image by itself
# (--pull=false does not stop that), so a base must be on the host already.
"$docker" image inspect "$base" >/dev/null 2>&1 || {
    [ "$base" != galaxy-python-base:local ] ||
        fail "no $base on this Docker host: make it with ../shared/tools/dockerd-sandbox base-image (no registry needed)"
    fail "no $base on this Docker host: \`docker pull $base\` first (this script never pulls)"
}

context=$(mktemp -d "${TMPDIR:-/tmp}/engine-image.XXXXXX")
trap 'rm -rf "$context"' EXIT

# The wheel from a copy: setuptools builds in the source tree, and a module
# deleted since an earlier build would linger in build/lib and in the wheel.
# A fixed SOURCE_DATE_EPOCH makes the same sources the same wheel, so an
# unchanged checkout rebuilds from Docker's cache and leaves no dangling image.
mkdir "$context/src" "$context/wheelhouse"
tar -C "$root" --exclude=__pycache__ -cf - pyproject.toml README.md galaxy | tar -C "$context/src" -xf -
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800} "$python" -m pip wheel --quiet --no-deps --no-build-isolation --no-index \
    -w "$context/wheelhouse" "$context/src" >&2
wheel=$(cd "$context/wheelhouse" && echo galaxy-*.whl)
case "$wheel" in
galaxy-"$version"-*.whl) ;;
*) fail "built $wheel, not galaxy $version: pyproject.toml and galaxy/__init__.py disagree" ;;
esac
rm -rf "$context/src"
cp "$wheels"/*.whl "$wheels/engine-requirements.txt" "$context/wheelhouse/"

# The legacy builder unless told otherwise: the docker 28 client on these
# machines has no buildx plugin.
DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} "$docker" build --network none --pull=false \
    -f "$root/docker/engine.Dockerfile" --build-arg "BASE=$base" -t "$tag" "$context" >&2
echo "$tag"
