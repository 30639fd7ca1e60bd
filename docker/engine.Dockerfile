# The game engine image, built with no registry: the base is made locally
# (`../shared/tools/dockerd-sandbox base-image`), the wheels are built on the
# host (`make engine-wheels`) and installed offline.
#
#   docker build -f docker/engine.Dockerfile --build-arg BASE=galaxy-python-base:local \
#       -t galaxy-engine:<version> <context with wheelhouse/>
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
