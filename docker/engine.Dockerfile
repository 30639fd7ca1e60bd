# The game engine image, galaxy-engine:<version> (galaxy's version: the image
# a fresh engine registry registers). Build it with one command:
#
#   make engine-image                          # BASE=galaxy-python-base:local
#   docker pull python:3.11-slim               # where a registry is reachable,
#   make engine-image BASE=python:3.11-slim    # any Python 3.11 image with pip
#
# which runs docker/build-engine-image.sh: the galaxy wheel and the engine's
# dependency wheels (`make engine-wheels`) go into the build context as
# wheelhouse/, and this file installs them offline (`docker build --network
# none`). Nothing is pulled: the base must be on the Docker host; the default
# one is made without a registry by `../shared/tools/dockerd-sandbox
# base-image`. Building this file by hand needs that same context: a
# wheelhouse/ holding galaxy-<version>-*.whl, the engine wheels and
# engine-requirements.txt.
ARG BASE=galaxy-python-base:local
FROM ${BASE}

COPY wheelhouse /wheels
RUN pip install --no-index --find-links /wheels -r /wheels/engine-requirements.txt \
 && pip install --no-index --no-deps /wheels/galaxy-*.whl \
 && rm -rf /wheels \
 && mkdir -p /var/lib/galaxy-game

# The backend bind-mounts the game's state directory here
# (BACKEND_RUNTIME_CONTAINER_STATE_MOUNT) and reaches the engine on 8080.
VOLUME /var/lib/galaxy-game
EXPOSE 8080
ENTRYPOINT ["galaxy", "engine"]
CMD ["--state-dir", "/var/lib/galaxy-game", "--listen", "0.0.0.0:8080"]
