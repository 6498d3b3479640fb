# The facade's image: `drover serve` (API, mirror, scheduler), the image of argo/'s drover-api
# Deployment. Build it with
#
#   drover images build --only facade    # drover:<drover's version>
#
# which first writes Drover's wheel (drover/) and its dependencies' wheels (wheels/, with a
# requirements.txt naming them) into the build context with pip on the host, so the build itself
# needs no package index. The base's Python must
# be the host's (the wheels are built for it): `drover images build` picks python:<host>-slim.
# A Debian base without Python gets it from apt.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS python
RUN set -eux; \
    missing=""; \
    command -v python3 >/dev/null 2>&1 || missing="python3 python3-venv"; \
    if [ -z "$missing" ] && ! python3 -m venv /tmp/venv-probe >/dev/null 2>&1; then missing="python3-venv"; fi; \
    rm -rf /tmp/venv-probe; \
    if [ -n "$missing" ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
        apt-get clean; rm -rf /var/lib/apt/lists/*; \
    fi; \
    id -u drover >/dev/null 2>&1 || useradd --uid 10001 --create-home --shell /usr/sbin/nologin drover

# Dependencies first, in their own stage and layer: rebuilt only when they change.
FROM python AS dependencies
COPY wheels /tmp/wheels
RUN set -eu; \
    want=$(cat /tmp/wheels/PYTHON_VERSION); \
    have=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
    if [ "$want" != "$have" ]; then \
        echo "the wheels are for Python $want but the base image has $have: build with --base-image python:$want-slim (or a base with Python $want)" >&2; \
        exit 1; \
    fi; \
    python3 -m venv /opt/drover; \
    /opt/drover/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels \
        -r /tmp/wheels/requirements.txt

FROM python
COPY --from=dependencies /opt/drover /opt/drover
# Drover itself: one small layer on top, the only one a code change rebuilds.
COPY drover /tmp/drover
RUN /opt/drover/bin/pip install --no-cache-dir --no-index --no-deps /tmp/drover/*.whl \
    && rm -rf /tmp/drover \
    && /opt/drover/bin/drover --help >/dev/null
ENV PATH=/opt/drover/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DROVER_HOME=/home/drover/.drover
USER 10001
WORKDIR /home/drover
EXPOSE 8000
CMD ["drover", "serve", "--host", "0.0.0.0", "--port", "8000"]
